"""Lists show whole values at any width; ids may be given by a unique prefix; one execution
document whether it ran here or in the store; strict JSON; failures say so."""

from __future__ import annotations

import asyncio
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from relay_processes import relay_env, run_relay

from runtime import Runtime, Service, open_store
from runtime.cli import cli
from runtime.logs import configure_from_env, configure_logging

MANUAL = """\
name: manual
steps:
  - id: shape
    action: relay.value
    inputs: {value: "${{ trigger }}"}
  - id: check
    action: relay.value
    inputs: {value: "${{ 1 / int(trigger.divisor) }}"}
"""
SCHEDULE = """\
name: every five minutes
trigger: {schedule: {every: 5m}}
steps:
  - id: tick
    action: relay.value
    inputs: {value: tick}
"""
WEBHOOK = """\
name: plain hook
trigger: {webhook: {}}
steps:
  - id: echo
    action: relay.value
    inputs: {value: "${{ trigger.body }}"}
"""
PUBLIC = "http://relay.example.com/a/rather/long/base/path/so/that/the/url/cannot/fit/in/80"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("RELAY_HOME", str(home))
    monkeypatch.setenv("RELAY_PUBLIC_URL", PUBLIC)
    monkeypatch.delenv("RELAY_DATABASE_URL", raising=False)
    for name, text in (("manual", MANUAL), ("schedule", SCHEDULE), ("hook", WEBHOOK)):
        (tmp_path / f"{name}.yaml").write_text(text)
        (tmp_path / "empty.yaml").write_text("{}\n")
        code, _, err = invoke(
            "deploy", str(tmp_path / f"{name}.yaml"), "--config", str(tmp_path / "empty.yaml")
        )
        assert code == 0, err
    return home


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.stdout + result.stderr
    return result.exit_code, result.stdout, result.stderr


def relay(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The real command at 80 columns (rich reads COLUMNS)."""
    return run_relay(*args, env=relay_env(home, COLUMNS="80", RELAY_PUBLIC_URL=PUBLIC))


async def _run_manual(home: Path, payloads: list[Any]) -> list[str]:
    store = await open_store(None, data_dir=home)
    runtime = Runtime()
    relay = Service(runtime, store, base_url=PUBLIC)
    try:
        ids = []
        for payload in payloads:
            execution_id = await relay.start_manual("manual", payload)
            await relay.execute(execution_id, "test")
            ids.append(execution_id)
        return ids
    finally:
        await runtime.aclose()
        await store.close()


def test_instances_show_whole_urls_and_none_for_schedules(home: Path) -> None:
    run = relay(home, "instances")
    assert run.returncode == 0, run.stderr
    _, out, _ = invoke("instances", "--json")
    rows = {r["name"]: r for r in json.loads(out)}
    assert rows["schedule"]["webhook_url"] is None
    assert rows["manual"]["webhook_url"] is None
    url = rows["hook"]["webhook_url"]
    assert url.startswith(PUBLIC + "/webhooks/") and len(url) > 80
    assert url in run.stdout.splitlines()[-1] or any(
        url in line for line in run.stdout.splitlines()
    )
    schedule_line = next(line for line in run.stdout.splitlines() if line.startswith("schedule "))
    assert schedule_line.rstrip().endswith(" -")


def test_deploying_a_schedule_prints_no_webhook_url(home: Path, tmp_path: Path) -> None:
    code, out, err = invoke(
        "deploy",
        str(tmp_path / "schedule.yaml"),
        "--config",
        str(tmp_path / "empty.yaml"),
        "--name",
        "again",
    )
    assert code == 0, err
    assert "webhook URL: none" in out
    assert "/webhooks/" not in out


def test_executions_show_whole_ids_and_take_unique_prefixes(home: Path) -> None:
    ids = asyncio.run(_run_manual(home, [{"divisor": 1}, {"divisor": 2}, {"divisor": 4}]))
    run = relay(home, "executions")
    assert run.returncode == 0, run.stderr
    for execution_id in ids:
        assert any(line.startswith(execution_id + " ") for line in run.stdout.splitlines()), (
            run.stdout
        )
    shared = next(
        ids[0][:n] for n in range(32, -1, -1) if all(i.startswith(ids[0][:n]) for i in ids)
    )
    last = ids[-1]
    unique = next(
        last[:n] for n in range(1, 33) if not any(i.startswith(last[:n]) for i in ids[:-1])
    )
    code, out, err = invoke("execution", unique, "--json")
    assert code == 0, err
    assert json.loads(out)["id"] == last
    if shared:  # time-ordered ids made close together share their first digits
        code, _, err = invoke("execution", shared)
        assert code == 1
        assert err.strip() == (
            f"error: execution id {shared!r} is ambiguous: 3 executions start with it "
            "(give more of the id)"
        )
    # the real command (in-process, unconfigured logging would print its log lines on stdout)
    replay = relay(home, "replay", unique)
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout.startswith("replay ") and replay.stdout.strip().endswith(": completed")
    code, _, err = invoke("execution", "zz-not-hex")
    assert code == 1 and err.strip() == "error: no execution 'zz-not-hex'"


def test_executions_of_an_unknown_instance_is_an_error(home: Path) -> None:
    code, _, err = invoke("executions", "--instance", "nope")
    assert code == 1
    assert err.strip() == "error: --instance: no instance named 'nope'"
    code, out, _ = invoke("executions", "--instance", "manual", "--json")
    assert code == 0 and json.loads(out) == []


def test_run_and_execution_json_are_one_shape(home: Path, tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text('{"divisor": 2}')
    code, out, err = invoke(
        "run", str(tmp_path / "manual.yaml"), "--payload", str(tmp_path / "p.json"), "--json"
    )
    assert code == 0, err
    here = json.loads(out)
    [execution_id] = asyncio.run(_run_manual(home, [{"divisor": 2}]))
    code, out, err = invoke("execution", execution_id, "--json")
    assert code == 0, err
    stored = json.loads(out)
    assert list(here) == list(stored)
    assert here["payload"] == stored["payload"] == {"divisor": 2}
    assert here["outputs"] == stored["outputs"]
    assert [s["path"] for s in here["steps"]] == [s["path"] for s in stored["steps"]]
    assert stored["instance"] == "manual" and here["instance"] is None


def _strict(text: str) -> Any:
    def refuse(word: str) -> Any:
        raise AssertionError(f"not JSON: {word}")

    return json.loads(text, parse_constant=refuse)


def test_execution_json_is_strict_json(home: Path) -> None:
    [execution_id] = asyncio.run(
        _run_manual(home, [{"divisor": 1, "x": float("nan"), "y": float("inf")}])
    )
    code, out, err = invoke("execution", execution_id, "--json")
    assert code == 0, err
    data = _strict(out)
    assert data["payload"]["x"] == "NaN" and data["payload"]["y"] == "Infinity"


def test_a_failed_replay_exits_1_and_the_failure_is_logged_at_warning(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        configure_logging("warning")
        [execution_id] = asyncio.run(_run_manual(home, [{"divisor": 0}]))
        logs = capsys.readouterr().err
    finally:
        configure_from_env()
    [line] = [line for line in logs.splitlines() if "execution failed" in line]
    assert execution_id in line and "instance=manual" in line and "step=check" in line
    assert "division by zero" in line
    code, out, err = invoke("replay", execution_id)
    assert code == 1
    assert ": failed" in out
    assert "error in step check:" in err


def test_describe_shows_whole_keys_descriptions_and_choices() -> None:
    code, out, err = invoke("describe", "calendly.listEventInvitees")
    assert code == 0, err
    runtime = Runtime()
    action = runtime.registry.require("calendly").component.action("listEventInvitees")
    assert action is not None
    for spec in action.inputs:
        assert f"  {spec.key} (" in out
        if spec.comments:
            assert spec.comments in out
        if spec.choices:
            assert ", ".join(c.value for c in spec.choices) in out
    run = run_relay(
        "describe", "calendly.listEventInvitees", env=relay_env(Path("/nonexistent"), COLUMNS="80")
    )
    assert "…" not in run.stdout
