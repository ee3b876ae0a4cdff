"""``relay connections list|show|test|delete|reconnect`` on the local store, against a real
``relay sandbox`` on loopback: status, a test call that succeeds and one the sandbox fails,
reconnection, ``--json`` everywhere, one-line errors naming the connection, no secret."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from relay_sandbox_process import loopback_sandbox

from runtime.cli import cli

#: the sandbox's public test client
SECRET = "sandbox-client-secret"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert SECRET not in result.stdout + result.stderr
    assert "access_token" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with loopback_sandbox(tmp_path_factory.mktemp("sandbox-home")) as url:
        yield url


@pytest.fixture
def acme(sandbox: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh store holding the connection ``acme`` to the sandbox (faults off after)."""
    monkeypatch.setenv("RELAY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RELAY_DATABASE_URL", raising=False)
    (tmp_path / "conn.yaml").write_text(
        f"clientId: sandbox-client-id\nclientSecret: {SECRET}\n"
        f"useLiveServer: false\nsandboxUrl: {sandbox}\n"
    )
    code, _, err = invoke(
        "connect", "calendly", "--config", str(tmp_path / "conn.yaml"), "--name", "acme"
    )
    assert code == 0, err
    yield sandbox
    httpx.post(f"{sandbox}/_sandbox/faults", json={}).raise_for_status()


def test_list_and_show_give_the_status(acme: str) -> None:
    code, out, err = invoke("connections", "list", "--json")
    assert code == 0, err
    [row] = json.loads(out)
    assert (row["name"], row["kind"], row["status"], row["used_by"]) == (
        "acme",
        "oauth2",
        "connected",
        [],
    )
    assert row["token_expires_at"] > row["last_refresh"] > 0
    # alone, the group lists, as it always has
    code, bare, _ = invoke("connections", "--json")
    assert code == 0 and json.loads(bare) == [row]
    code, out, _ = invoke("connections")
    assert code == 0
    assert out.splitlines()[1].split()[:5] == [
        "acme",
        "calendly",
        "calendlyOauth2Connection",
        "oauth2",
        "connected",
    ]
    code, out, _ = invoke("connections", "show", "acme", "--json")
    assert code == 0 and json.loads(out) == row
    code, out, _ = invoke("connections", "show", "acme")
    assert code == 0 and "status:        connected" in out.splitlines()
    for command in ("show", "test", "delete", "reconnect"):
        code, _, err = invoke("connections", command, "ghost")
        assert code == 1 and err.strip() == "error: no stored connection 'ghost'", command


def test_a_test_call_passes_then_fails_with_the_api_error(acme: str) -> None:
    code, out, err = invoke("connections", "test", "acme")
    assert code == 0, err
    assert out.strip() == "connection acme: ok"
    code, out, _ = invoke("connections", "test", "acme", "--json")
    assert code == 0 and json.loads(out) == {"name": "acme", "result": "ok", "error": None}
    httpx.post(f"{acme}/_sandbox/faults", json={"error_rate_5xx": 1.0}).raise_for_status()
    code, _, err = invoke("connections", "test", "acme")
    assert code == 1
    [line] = err.strip().splitlines()
    assert line.startswith("error: connection acme: 500 ")
    code, out, _ = invoke("connections", "test", "acme", "--json")
    assert code == 1
    found = json.loads(out)
    assert found["result"] == "failed" and found["error"]["status"] == 500


def test_reconnect_replaces_the_token(acme: str) -> None:
    code, out, _ = invoke("connections", "show", "acme", "--json")
    before = json.loads(out)["last_refresh"]
    code, out, err = invoke("connections", "reconnect", "acme")
    assert code == 0, err
    assert out.strip() == "reconnected acme (calendly.calendlyOauth2Connection)"
    code, out, err = invoke("connections", "reconnect", "acme", "--json")
    assert code == 0, err
    row = json.loads(out)
    assert row["status"] == "connected" and row["last_refresh"] > before
    code, out, _ = invoke("connections", "test", "acme")
    assert code == 0


def test_delete_answers_in_json_too(acme: str) -> None:
    code, out, err = invoke("connections", "delete", "acme", "--json")
    assert code == 0, err
    assert json.loads(out) == {"name": "acme", "used_by": []}
    code, out, _ = invoke("connections", "list", "--json")
    assert json.loads(out) == []
