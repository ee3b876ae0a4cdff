"""CLI errors are one line naming the place, never a traceback: config files of any shape, an
API that cannot be reached, bad ``--input`` values and references, usage errors."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relay_processes import relay_env, run_relay

from runtime import Action, Component, ConfigurationError, Input, Runtime, hookimpl
from runtime.cli import CliState, cli
from runtime.cli.values import convert_input
from runtime.logs import configure_from_env, configure_logging

ROOT = Path(__file__).resolve().parents[2]
FLOW = ROOT / "flows" / "booking-follow-up.yaml"
PAYLOAD = ROOT / "flows" / "samples" / "booking-follow-up.payload.json"
IN_PROCESS = (
    "clientId: sandbox-client-id\nclientSecret: sandbox-client-secret\nuseLiveServer: false\n"
)


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RELAY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RELAY_DATABASE_URL", raising=False)
    return tmp_path / "home"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args))
    assert "Traceback" not in result.stdout + result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: "), err
    assert not lines[0].startswith("error: unexpected "), err  # relay's crash line
    return lines[0]


@pytest.mark.parametrize(
    ("text", "kind"), [("[1, 2]\n", "a list"), ("hello\n", "a string"), ("3\n", "a number")]
)
@pytest.mark.parametrize("command", ["run", "deploy", "picklist", "connect"])
def test_a_config_that_is_not_a_mapping_is_one_line(
    tmp_path: Path, command: str, text: str, kind: str
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(text)
    args = {
        "run": ["run", str(FLOW), "--config", str(config)],
        "deploy": ["deploy", str(FLOW), "--config", str(config)],
        "picklist": ["picklist", "calendly.eventTypes", "--config", str(config)],
        "connect": ["connect", "calendly", "--config", str(config)],
    }[command]
    code, _, err = invoke(*args)
    assert code == 1
    line = one_error_line(err)
    assert line == (
        f"error: {config}: the config file must be a mapping of KEY: value at its top level,"
        f" not {kind}"
    )


_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=8)
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(
            st.sampled_from(["use", "clientId", "connection", "x", "calendly"]), inner
        )
    ),
    max_leaves=8,
)
_CONFIGS = st.one_of(
    st.dictionaries(
        st.sampled_from(["calendly", "connection", "organization", "followUpEventType", "zz"]),
        _VALUES,
        max_size=4,
    ),
    _VALUES,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    doc=st.one_of(_CONFIGS.map(lambda v: json.dumps(v)), st.text(max_size=40)),
    command=st.sampled_from(["run", "deploy", "picklist"]),
)
def test_any_config_file_gives_a_result_or_a_clear_error(
    tmp_path: Path, doc: str, command: str
) -> None:
    config = tmp_path / "any.yaml"
    config.write_text(doc)
    args = {
        "run": ["run", str(FLOW), "--config", str(config), "--payload", str(PAYLOAD)],
        "deploy": ["deploy", str(FLOW), "--config", str(config), "--name", "hypo"],
        "picklist": ["picklist", "calendly.eventTypes", "--config", str(config)],
    }[command]
    result = CliRunner().invoke(cli, args)
    output = result.stdout + result.stderr
    assert "Traceback" not in output
    assert "error: unexpected " not in output  # relay's crash line (a YAML error may say it)
    assert result.exit_code in (0, 1, 2), output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )


def _unreachable(tmp_path: Path) -> Path:
    config = tmp_path / "down.yaml"
    config.write_text(IN_PROCESS + "sandboxUrl: http://127.0.0.1:9\n")
    return config


def test_an_unreachable_api_is_one_line_naming_it(tmp_path: Path) -> None:
    fields = _unreachable(tmp_path).read_text()
    nested = "calendly:\n" + "".join(f"  {line}\n" for line in fields.splitlines())
    flow_config = tmp_path / "flow.yaml"
    flow_config.write_text(nested + "organization: X\nfollowUpEventType: Y\n")
    source_config = tmp_path / "source.yaml"
    source_config.write_text(nested.replace("calendly:", "connection:"))
    for args in (
        ["connect", "calendly", "--config", str(_unreachable(tmp_path))],
        ["run", str(FLOW), "--config", str(flow_config), "--payload", str(PAYLOAD)],
        ["picklist", "calendly.eventTypes", "--config", str(source_config)],
        ["deploy", str(FLOW), "--config", str(flow_config)],
    ):
        code, _, err = invoke(*args)
        assert code == 1, args
        line = one_error_line(err)
        assert "cannot reach http://127.0.0.1:9" in line, line


def test_input_values_take_the_inputs_type(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("connection:\n" + "".join(f"  {x}\n" for x in IN_PROCESS.splitlines()))
    code, out, err = invoke(
        "picklist",
        "calendly.eventTypes",
        "--config",
        str(config),
        "--input",
        "active=true",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out), "the sandbox's active event types"
    code, _, err = invoke(
        "picklist", "calendly.eventTypes", "--config", str(config), "--input", "active=maybe"
    )
    assert code == 1
    assert one_error_line(err) == "error: --input active: 'maybe' is not a boolean (true or false)"


def test_a_data_source_reference_must_be_component_dot_key() -> None:
    code, _, err = invoke("picklist", "calendly")
    assert code == 1
    line = one_error_line(err)
    assert line.startswith("error: calendly: a data source is COMPONENT.KEY; calendly's data")
    assert "calendly.eventTypes" in line
    code, _, err = invoke("picklist", "calendly.nope")
    assert "no data source 'nope'" in one_error_line(err)


def test_usage_errors_are_one_line_naming_the_option(tmp_path: Path) -> None:
    env = relay_env(tmp_path / "home")
    for args, named in (
        (["executions", "--limit", "0"], "'--limit'"),
        (["validate"], "'FLOWS...'"),
        (["serve", "--port", "99999"], "'--port'"),
    ):
        run = run_relay(*args, env=env)
        assert run.returncode == 2, run.stderr
        assert named in one_error_line(run.stderr)


def test_validate_accepts_a_directory(tmp_path: Path) -> None:
    code, out, err = invoke("validate", str(ROOT / "flows"))
    assert code == 0, err
    assert out.count(": ok (") == len(list((ROOT / "flows").glob("*.yaml")))
    assert "samples" not in out
    (tmp_path / "empty").mkdir()
    code, _, err = invoke("validate", str(tmp_path / "empty"))
    assert code == 1
    assert (
        one_error_line(err)
        == f"error: {tmp_path / 'empty'}: no *.yaml or *.yml flow in this directory"
    )


class _Broken:
    __name__ = "broken-plugin"

    @hookimpl
    def register_components(self, register: Any) -> None:
        def explode(ctx: Any, params: dict[str, Any]) -> Any:
            return 1 / 0

        register(
            Component(
                key="broken",
                label="Broken",
                description="Raises.",
                actions=(
                    Action(
                        key="explode",
                        label="Explode",
                        description="Divides by zero.",
                        inputs=(),
                        perform=explode,
                    ),
                ),
            )
        )


def test_a_component_exception_names_its_type_and_logs_its_traceback_at_debug(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flow = tmp_path / "broken.yaml"
    flow.write_text("name: broken\nsteps:\n  - id: boom\n    action: broken.explode\n")
    state = CliState(runtime_factory=lambda: Runtime(plugins=[_Broken()], load_entry_points=False))
    try:
        for level in ("warning", "debug"):
            configure_logging(level)  # logs go to whatever stderr is when they are written
            # not ``invoke``: at debug the traceback is meant to be on stderr, as a log line
            result = CliRunner().invoke(cli, ["run", str(flow)], obj=state)
            code, err = result.exit_code, result.stderr
            stderr = err + capsys.readouterr().err
            assert code == 1
            assert "error in step boom: ZeroDivisionError: division by zero" in err
            if level == "debug":
                assert "Traceback" in stderr and "1 / 0" in stderr, stderr
            else:
                assert "Traceback" not in stderr
    finally:
        configure_from_env()


def test_run_sync_inside_an_event_loop_says_to_await(recwarn: pytest.WarningsRecorder) -> None:
    rt = Runtime()
    flow = rt.load_flow_text(
        "name: n\nsteps:\n  - {id: a, action: relay.value, inputs: {value: 1}}\n"
    )

    async def inside() -> None:
        with pytest.raises(ConfigurationError, match=r"use `await rt.run\(flow, \.\.\.\)`"):
            rt.run_sync(flow)

    asyncio.run(inside())
    assert not [w for w in recwarn if "never awaited" in str(w.message)]


@given(
    kind=st.sampled_from(["boolean", "integer", "number", "code", "string"]),
    raw=st.text(max_size=20),
)
def test_any_input_text_converts_or_is_one_error_naming_the_key(kind: str, raw: str) -> None:
    spec = Input(key="k", label="K", type=kind)  # type: ignore[arg-type]
    try:
        value = convert_input(spec, "k", raw)
    except ConfigurationError as exc:
        assert str(exc).startswith("--input k: ")
        assert "\n" not in str(exc)
        return
    expected: dict[str, type | tuple[type, ...]] = {
        "boolean": bool,
        "integer": int,
        "number": (int, float),
        "string": str,
    }
    if kind in expected:
        assert isinstance(value, expected[kind])
    json.dumps(value, allow_nan=False)  # what a data source receives is plain JSON


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(given_id=st.text(max_size=40), command=st.sampled_from(["execution", "cancel", "replay"]))
def test_any_execution_id_is_found_or_one_error(given_id: str, command: str) -> None:
    result = CliRunner().invoke(cli, [command, "--", given_id])
    output = result.stdout + result.stderr
    assert "Traceback" not in output and "error: unexpected " not in output
    assert result.exit_code in (1, 2), output
    if result.exit_code == 1:
        one_error_line(result.stderr)


def test_config_problems_name_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("calendly: {clientId: 5}\norganization: X\nfollowUpEventType: Y\n")
    for args in (
        ["run", str(FLOW), "--config", str(config)],
        ["deploy", str(FLOW), "--config", str(config)],
    ):
        code, _, err = invoke(*args)
        assert code == 1
        first, *problems = err.strip().splitlines()
        assert first.startswith(f"error: {config}: invalid config for flow"), first
        assert "  $.calendly.clientId: 5 is not of type 'string'" in problems or any(
            p.strip().startswith("$.calendly.clientId:") for p in problems
        ), problems


@pytest.mark.parametrize("raw", ["NaN", "[1, Infinity]", '{"a": -Infinity}', "1e999", "[-1e400]"])
def test_a_code_input_refuses_nan_and_infinity(raw: str) -> None:
    """Python's JSON parser takes them; no JSON consumer does (found by the property above)."""
    with pytest.raises(
        ConfigurationError, match=r"^--input k: not JSON \(.*is not a JSON value\)$"
    ):
        convert_input(Input(key="k", label="K", type="code"), "k", raw)
