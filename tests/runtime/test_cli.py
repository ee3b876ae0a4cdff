"""The CLI: thin over the API, JSON when asked, one clear line per error, no tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from relay_widgets import API_HOST, WidgetApi, WidgetsPlugin

from runtime import ManualClock, Runtime
from runtime.cli import CliState, cli

FLOW = """\
name: cli flow
config:
  who: {type: string}
steps:
  - id: a
    action: widgets.echo
    inputs: {text: "${{ config.who }} ${{ trigger.n }}"}
"""


def widgets_state() -> CliState:
    """Commands get a runtime with the widgets plugin, its API served in-process."""
    api = WidgetApi(ManualClock())
    return CliState(
        runtime_factory=lambda: Runtime(
            plugins=[WidgetsPlugin()], load_entry_points=False, hosts={API_HOST: api.app}
        )
    )


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), obj=widgets_state())
    return result.exit_code, result.stdout, result.stderr


def test_components_json() -> None:
    code, out, _ = invoke("components", "--json")
    assert code == 0
    data = json.loads(out)
    assert data[0]["key"] == "widgets"
    assert [a["key"] for a in data[0]["actions"]] == ["echo", "add", "whoami", "flaky", "fail"]


def test_describe_action_json_has_inputs_and_schema() -> None:
    code, out, _ = invoke("describe", "widgets.echo", "--json")
    assert code == 0
    data = json.loads(out)
    text = next(i for i in data["inputs"] if i["key"] == "text")
    assert text["required"] is True
    assert data["schema"]["required"] == ["text"]
    count = next(i for i in data["inputs"] if i["key"] == "count")
    assert count["default"] == 1


def test_describe_shows_a_connection_input_as_a_flow_writes_it() -> None:
    """A connection input is named with an expression; the marker relay puts in its place
    while validating is not what an author writes, so describe never shows it."""
    from jsonschema import Draft202012Validator

    code, out, _ = invoke("describe", "widgets.whoami", "--json")
    assert code == 0
    assert "$connection" not in out
    data = json.loads(out)
    row = next(i for i in data["inputs"] if i["key"] == "connection")
    for schema in (row["schema"], data["schema"]["properties"]["connection"]):
        check = Draft202012Validator(schema)
        assert check.is_valid("${{ config.widgets }}")
        assert not check.is_valid("widgets")
        assert not check.is_valid({"$connection": "widgets"})
        assert "config variable of type connection" in schema["description"]
    parallel = next(i for i in data["inputs"] if i["key"] == "parallel")
    assert parallel["schema"]["type"] == "integer"  # other inputs keep their value's schema
    assert data["schema"]["properties"]["parallel"]["type"] == "integer"


def test_describe_unknown_is_one_line_error() -> None:
    code, _, err = invoke("describe", "widgets.nope")
    assert code == 1
    assert err.strip() == "error: component 'widgets' has nothing with key 'nope'"


def test_run_with_config_and_payload(tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text(FLOW)
    (tmp_path / "c.yaml").write_text("who: ada\n")
    (tmp_path / "p.json").write_text('{"n": 3}')
    code, out, _ = invoke(
        "run",
        str(tmp_path / "f.yaml"),
        "--config",
        str(tmp_path / "c.yaml"),
        "--payload",
        str(tmp_path / "p.json"),
        "--json",
    )
    assert code == 0
    data = json.loads(out)
    assert data["status"] == "completed"
    assert data["outputs"]["a"]["data"]["text"] == "ada 3"


def test_run_reports_config_errors_without_traceback(tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text(FLOW)
    (tmp_path / "c.yaml").write_text("who: [1\n")
    code, _, err = invoke("run", str(tmp_path / "f.yaml"), "--config", str(tmp_path / "c.yaml"))
    assert code == 1
    assert "c.yaml:2:1: YAML syntax error" in err
    assert "Traceback" not in err
    (tmp_path / "c.yaml").write_text("who: 5\n")
    code, _, err = invoke("run", str(tmp_path / "f.yaml"), "--config", str(tmp_path / "c.yaml"))
    assert code == 1
    assert "$.who: must be a string" in err


def test_unreadable_config_and_payload_files_name_the_file(tmp_path: Path) -> None:
    (tmp_path / "f.yaml").write_text(FLOW)
    (tmp_path / "binary.yaml").write_bytes(b"\xfa\xfb\x00 not text")
    flow = str(tmp_path / "f.yaml")
    code, _, err = invoke("run", flow, "--config", str(tmp_path / "binary.yaml"))
    assert code == 1
    assert err.startswith(f"error: {tmp_path / 'binary.yaml'}: cannot read the config file")
    code, _, err = invoke("run", flow, "--payload", str(tmp_path / "gone.json"))
    assert code == 1
    assert err.startswith(f"error: {tmp_path / 'gone.json'}: cannot read the payload file")
    assert "Traceback" not in err


def test_missing_file_is_a_clear_error() -> None:
    code, _, err = invoke("validate", "/nonexistent/flow.yaml")
    assert code == 1
    assert "cannot read" in err
    assert "Traceback" not in err


def test_picklist_json_and_bad_input_pair(tmp_path: Path) -> None:
    code, out, _ = invoke("picklist", "widgets.colors", "--json")
    assert code == 0
    assert json.loads(out) == [{"key": "red", "label": "Red"}, {"key": "green", "label": "Green"}]
    code, _, err = invoke("picklist", "widgets.colors", "--input", "novalue")
    assert code == 2
    assert "expected KEY=VALUE" in err
