"""``relay redeploy``, ``pause`` and ``resume`` over the local store: what each prints, what
``relay instances`` then shows, and each error as one line naming its place."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relay_service_support import CONFIG, FLOW

from runtime import open_store
from runtime.cli import cli

FLOW_V2 = FLOW.replace("id: answer", "id: reply")


def invoke(*args: str) -> tuple[int, str, str]:
    """Exit code, stdout without log lines (the service logs at info), stderr."""
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.stdout + result.stderr
    said = [line for line in result.stdout.splitlines(keepends=True) if " [info     ] " not in line]
    return result.exit_code, "".join(said), result.stderr


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("RELAY_HOME", str(home))
    monkeypatch.delenv("RELAY_DATABASE_URL", raising=False)
    (tmp_path / "plain.yaml").write_text(FLOW)
    (tmp_path / "v2.yaml").write_text(FLOW_V2)
    (tmp_path / "config.json").write_text(json.dumps(CONFIG))
    code, _, err = invoke(
        "deploy", str(tmp_path / "plain.yaml"), "--config", str(tmp_path / "config.json")
    )
    assert code == 0, err
    return home


def listed(name: str = "plain") -> dict[str, object]:
    code, out, err = invoke("instances", "--json")
    assert code == 0, err
    [row] = [r for r in json.loads(out) if r["name"] == name]
    return dict(row)


def test_redeploy_keeps_the_url_and_counts_the_version(home: Path, tmp_path: Path) -> None:
    before = listed()
    code, out, err = invoke("redeploy", "plain", str(tmp_path / "v2.yaml"))
    assert code == 0, err
    assert out.splitlines() == [
        "redeployed plain: flow version 2; trigger deploy step not run (its inputs are unchanged)"
    ]
    after = listed()
    assert (after["version"], after["webhook_url"]) == (2, before["webhook_url"])
    assert after["path"] == str(tmp_path / "v2.yaml")

    async def versions() -> list[tuple[int, str]]:
        store = await open_store(None, data_dir=home)
        try:
            return [(v.version, v.flow_text) for v in await store.list_flow_versions("plain")]
        finally:
            await store.close()

    assert asyncio.run(versions()) == [(1, FLOW), (2, FLOW_V2)]


def test_a_broken_redeploy_prints_its_problems_and_changes_nothing(
    home: Path, tmp_path: Path
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(FLOW_V2.replace("action: relay.value", "action: relay.nope"))
    code, _, err = invoke("redeploy", "plain", str(broken))
    assert code == 1
    *problems, summary = err.splitlines()
    assert problems == [f"{broken}:14:13: steps[2].action: component 'relay' has no action 'nope'"]
    assert summary == "1 problem(s)"
    assert listed()["version"] == 1

    (tmp_path / "empty.json").write_text("{}")
    code, _, err = invoke(
        "redeploy", "plain", str(tmp_path / "v2.yaml"), "--config", str(tmp_path / "empty.json")
    )
    assert code == 1
    assert err.splitlines() == [  # the config file named, then each problem with its path
        f"error: {tmp_path / 'empty.json'}: invalid config for flow 'plain webhook'",
        "  $.hookSecret: is required",
    ]
    assert listed()["version"] == 1


def test_pause_and_resume_show_in_the_listing(home: Path) -> None:
    assert listed()["status"] == "running"
    assert invoke("pause", "plain")[1] == "paused plain\n"
    assert invoke("pause", "plain")[1] == "plain was paused already\n"
    assert listed()["status"] == "paused"
    code, out, _ = invoke("instances")
    assert code == 0 and "paused" in out
    code, out, err = invoke("resume", "plain")
    assert code == 0, err
    assert out == "resumed plain; 0 held execution(s) released\n"
    assert listed()["status"] == "running"

    async def deliver_while_paused() -> list[str]:
        store = await open_store(None, data_dir=home)
        try:
            await store.pause_instance("plain")
            recorded = [
                (await store.record_delivery("plain", f"k{n}", {}, b"{}", 1.0 + n))[0]
                for n in range(2)
            ]
            held = await store.list_executions("plain", status="held")
            assert {r.id for r in held} == set(recorded)
            return recorded
        finally:
            await store.close()

    recorded = asyncio.run(deliver_while_paused())
    code, out, err = invoke("executions", "--status", "held", "--json")
    assert code == 0, err
    assert sorted(r["id"] for r in json.loads(out)) == sorted(recorded)
    code, out, err = invoke("resume", "plain")
    assert code == 0, err
    assert out.splitlines()[0] == "resumed plain; 2 held execution(s) released"
    assert "`relay serve`" in out.splitlines()[1]


@pytest.mark.parametrize("command", ["pause", "resume", "redeploy"])
def test_an_unknown_instance_is_one_line_naming_it(
    home: Path, tmp_path: Path, command: str
) -> None:
    args = [command, "ghost"] + ([str(tmp_path / "v2.yaml")] if command == "redeploy" else [])
    code, out, err = invoke(*args)
    assert (code, out, err) == (1, "", "error: no instance named 'ghost'\n")


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(name=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=30))
def test_any_name_is_paused_or_refused_in_one_line(home: Path, name: str) -> None:
    code, out, err = invoke("pause", "--", name)
    if name == "plain":
        assert code == 0
        invoke("resume", "plain")
    else:
        assert code == 1 and out == ""
        assert err == f"error: no instance named {name!r}\n"
