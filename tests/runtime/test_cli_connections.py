"""Stored connections from every command (connect, run, picklist, deploy), listed and deleted;
``relay undeploy --force`` with the API down. Against a real ``relay sandbox`` on loopback."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from relay_sandbox_process import loopback_sandbox

from runtime.cli import cli

ROOT = Path(__file__).resolve().parents[2]
WHOAMI = """\
name: whoami
config:
  calendly: {type: connection, component: calendly, connection: calendlyOauth2Connection}
steps:
  - id: me
    action: calendly.getCurrentUser
    inputs: {connection: "${{ config.calendly }}"}
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def connect_acme(tmp_path: Path, url: str) -> str:
    """``relay connect calendly --name acme`` to the sandbox at ``url``; its output."""
    (tmp_path / "conn.yaml").write_text(
        "clientId: sandbox-client-id\nclientSecret: sandbox-client-secret\n"
        f"useLiveServer: false\nsandboxUrl: {url}\n"
    )
    code, out, err = invoke(
        "connect", "calendly", "--config", str(tmp_path / "conn.yaml"), "--name", "acme"
    )
    assert code == 0, err
    return out


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("RELAY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RELAY_DATABASE_URL", raising=False)
    with loopback_sandbox(tmp_path / "sandbox-home") as url:
        assert "connected acme" in connect_acme(tmp_path, url)
        yield url


def test_stored_connections_are_listed_without_secrets(sandbox: str) -> None:
    code, out, err = invoke("connections", "--json")
    assert code == 0, err
    [row] = json.loads(out)
    assert row["name"] == "acme"
    assert (row["component"], row["key"], row["kind"]) == (
        "calendly",
        "calendlyOauth2Connection",
        "oauth2",
    )
    assert row["used_by"] == [] and row["saved_at"] > 0
    assert "sandbox-client-secret" not in out
    code, out, _ = invoke("connections")
    assert code == 0
    assert out.splitlines()[1].split()[:4] == [
        "acme",
        "calendly",
        "calendlyOauth2Connection",
        "oauth2",
    ]


def test_run_and_picklist_use_a_stored_connection(sandbox: str, tmp_path: Path) -> None:
    (tmp_path / "whoami.yaml").write_text(WHOAMI)
    (tmp_path / "use.yaml").write_text("calendly: {use: acme}\n")
    code, out, err = invoke(
        "run", str(tmp_path / "whoami.yaml"), "--config", str(tmp_path / "use.yaml"), "--json"
    )
    assert code == 0, err
    assert json.loads(out)["outputs"]["me"]["data"]["resource"]["name"] == "Olivia Owner"
    (tmp_path / "source.yaml").write_text("connection: {use: acme}\n")
    code, out, err = invoke(
        "picklist", "calendly.eventTypes", "--config", str(tmp_path / "source.yaml"), "--json"
    )
    assert code == 0, err
    assert json.loads(out)
    (tmp_path / "other.yaml").write_text("connection: {use: nobody}\n")
    code, _, err = invoke(
        "picklist", "calendly.eventTypes", "--config", str(tmp_path / "other.yaml")
    )
    assert code == 1
    assert err.strip() == (
        f"error: {tmp_path / 'other.yaml'}: no stored connection 'nobody' (`relay connections` "
        "lists them; `relay connect` makes one)"
    )


def test_a_connection_in_use_is_deleted_only_with_force(sandbox: str, tmp_path: Path) -> None:
    (tmp_path / "whoami.yaml").write_text(WHOAMI)
    (tmp_path / "use.yaml").write_text("calendly: {use: acme}\n")
    code, _, err = invoke(
        "deploy", str(tmp_path / "whoami.yaml"), "--config", str(tmp_path / "use.yaml")
    )
    assert code == 0, err
    code, out, _ = invoke("connections", "--json")
    assert json.loads(out)[0]["used_by"] == ["whoami"]
    code, _, err = invoke("connections", "delete", "acme")
    assert code == 1
    assert err.strip().startswith("error: connection 'acme' is used by instance(s) whoami:")
    code, _, err = invoke("connections", "delete", "ghost")
    assert code == 1 and err.strip() == "error: no stored connection 'ghost'"
    code, out, err = invoke("connections", "delete", "acme", "--force")
    assert code == 0, err
    assert "deleted connection acme" in out
    code, out, _ = invoke("connections", "--json")
    assert json.loads(out) == []


def test_connect_refuses_the_throwaway_in_process_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_HOME", str(tmp_path / "home"))
    (tmp_path / "c.yaml").write_text("clientId: a\nclientSecret: b\nuseLiveServer: false\n")
    code, _, err = invoke("connect", "calendly", "--config", str(tmp_path / "c.yaml"))
    assert code == 1
    [line] = err.strip().splitlines()
    assert "in-process sandbox forgets its tokens" in line and "sandboxUrl" in line
    code, out, _ = invoke("connections", "--json")
    assert json.loads(out) == []


def test_undeploy_with_the_api_down_needs_force_and_says_what_was_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RELAY_DATABASE_URL", raising=False)
    with loopback_sandbox(tmp_path / "sandbox-home") as url:
        connect_acme(tmp_path, url)
        organization = httpx.get(f"{url}/_sandbox/state").json()["organization"]["uri"]
        (tmp_path / "deploy.yaml").write_text(
            f"calendly: {{use: acme}}\norganization: {organization}\nfollowUpEventType: HDWNG6N3G3J7OPUS\n"
        )
        code, _, err = invoke(
            "deploy",
            str(ROOT / "flows" / "booking-follow-up.yaml"),
            "--config",
            str(tmp_path / "deploy.yaml"),
            "--name",
            "bf",
        )
        assert code == 0, err
    # the sandbox is gone: the trigger's undeploy step cannot delete the subscription
    code, _, err = invoke("undeploy", "bf")
    assert code == 1
    [line] = err.strip().splitlines()
    assert "ConnectError calling DELETE" in line and "`relay undeploy bf --force`" in line
    code, out, _ = invoke("instances", "--json")
    assert [i["name"] for i in json.loads(out)] == ["bf"]
    code, out, err = invoke("undeploy", "bf", "--force")
    assert code == 0, err
    assert out.startswith("undeployed bf\n")
    assert "the trigger's undeploy step failed:" in out
    assert f"left behind (delete it by hand): subscription {url}/webhook_subscriptions/" in out
    assert "signingKey" not in out
    code, out, _ = invoke("instances", "--json")
    assert json.loads(out) == []
