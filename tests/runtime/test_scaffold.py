"""``relay new component`` and ``relay new flow``.

The acceptance path as a user takes it: ``relay new component acme``, then in a virtualenv of
its own ``pip install -e acme && pytest acme`` passes with no edits and ``relay components``
lists it. The virtualenv sees relay's packages through a ``.pth`` file (no network), and is
made once for the module.
"""

from __future__ import annotations

import json
import keyword
import re
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from relay_processes import relay_env, run_relay

from runtime import (
    Choice,
    Component,
    ConfigurationError,
    Connection,
    Input,
    Runtime,
    Trigger,
    builtins,
)
from runtime.cli import cli
from runtime.declarations import NO_DEFAULT
from runtime.editor_schema import editor_schema
from runtime.flows.yamlsource import parse_yaml
from runtime.scaffold import check_name, component_files, trigger_flow
from runtime.testing import ComponentPlugin

ROOT = Path(__file__).resolve().parents[2]


class Venv:
    """A virtualenv that sees this one's packages, with the generated ``acme`` installed."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.python = work / "venv" / "bin" / "python"

    def run(self, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.python), *args],
            cwd=self.work,
            env=relay_env(self.work / "home"),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def relay(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run("-c", "from runtime.cli import main; main()", *args)


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Venv:
    work = tmp_path_factory.mktemp("scaffold")
    made = run_relay("new", "component", "acme", env=relay_env(work / "home"), cwd=work)
    assert made.returncode == 0, made.stderr
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", "venv"],
        cwd=work,
        check=True,
        timeout=120,
    )
    env = Venv(work)
    theirs = env.run("-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])")
    ours = sysconfig.get_paths()["purelib"]
    # relay's packages (and its editable install) as if installed there, without a download
    Path(theirs.stdout.strip(), "relay_dev.pth").write_text(
        f"import site; site.addsitedir({ours!r})\n"
    )
    installed = env.run(
        "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "-e", "acme"
    )
    assert installed.returncode == 0, installed.stderr
    return env


def test_the_generated_package_passes_its_own_tests(venv: Venv) -> None:
    ran = venv.run("-m", "pytest", "acme", "-q", "-p", "no:cacheprovider")
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-2000:]
    assert re.search(r"\b6 passed\b", ran.stdout), ran.stdout[-1000:]


def test_relay_components_lists_it(venv: Venv) -> None:
    listed = venv.relay("components", "--json")
    assert listed.returncode == 0, listed.stderr
    acme = next(c for c in json.loads(listed.stdout) if c["key"] == "acme")
    assert acme["plugin"] == "acme"
    assert [a["key"] for a in acme["actions"]] == ["getItem"]
    assert [c["key"] for c in acme["connections"]] == ["apiKey"]
    assert [d["key"] for d in acme["data_sources"]] == ["items"]
    assert "warning" not in listed.stderr


def test_the_flow_its_readme_shows_validates(venv: Venv) -> None:
    readme = (venv.work / "acme" / "README.md").read_text()
    (example,) = re.findall(r"^```yaml\n(.*?)^```", readme, re.S | re.M)
    (venv.work / "example.yaml").write_text(example)
    checked = venv.relay("validate", "example.yaml")
    assert checked.returncode == 0, checked.stderr
    described = venv.relay("describe", "acme.getItem")
    assert described.returncode == 0 and "data source items" in described.stdout


def test_the_generated_code_is_lint_clean(venv: Venv) -> None:
    ruff = str(Path(sys.executable).with_name("ruff"))
    package = str(venv.work / "acme")
    for args in (["check", "--select", "E,F,W,I,B,UP,SIM,RUF"], ["format", "--check"]):
        ran = subprocess.run(
            [ruff, *args, "."], cwd=package, capture_output=True, text=True, check=False
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr


@pytest.mark.parametrize("name", ["acme", "big_crm2"])
def test_every_template_renders_whole(name: str) -> None:
    files = component_files(name)
    package = f"relay_{name}"
    assert set(files) == {
        "pyproject.toml",
        "README.md",
        f"src/{package}/__init__.py",
        f"src/{package}/component.py",
        f"src/{package}/py.typed",
        f"tests/test_{name}.py",
    }
    for path, text in files.items():
        assert "${" not in text.replace("${{", ""), path
        if path.endswith(".py"):
            compile(text, path, "exec")
    assert f'{name} = "{package}"' in files["pyproject.toml"]


def test_an_existing_folder_is_refused_unless_forced(tmp_path: Path) -> None:
    env = relay_env(tmp_path / "home")
    (tmp_path / "acme").mkdir()
    (tmp_path / "acme" / "keep.txt").write_text("mine")
    refused = run_relay("new", "component", "acme", env=env, cwd=tmp_path)
    assert refused.returncode == 1
    assert "acme already exists" in refused.stderr and "--force" in refused.stderr
    assert not (tmp_path / "acme" / "pyproject.toml").exists()
    forced = run_relay("new", "component", "acme", "--force", env=env, cwd=tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert (tmp_path / "acme" / "pyproject.toml").exists()
    assert (tmp_path / "acme" / "keep.txt").read_text() == "mine"
    elsewhere = run_relay("new", "component", "acme", "-d", "pkgs/acme", env=env, cwd=tmp_path)
    assert elsewhere.returncode == 0, elsewhere.stderr
    assert (tmp_path / "pkgs/acme/src/relay_acme/component.py").exists()


@pytest.mark.parametrize(
    "name", ["Acme", "1acme", "acme-crm", "", "class", "relay", "calendly", "a" * 41, "ac me"]
)
def test_a_bad_name_is_one_line_naming_the_argument(name: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["new", "component", name, "-d", str(tmp_path / "x")])
    assert result.exit_code == 2, result.output
    assert "Invalid value for NAME" in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and repr(name) in errors[0]
    assert not (tmp_path / "x").exists()


@given(st.text(max_size=45))
def test_check_name_accepts_exactly_the_documented_names(name: str) -> None:
    usable = (
        re.fullmatch(r"[a-z][a-z0-9_]{0,39}", name) is not None
        and not keyword.iskeyword(name)
        and name not in {"relay", "runtime", "components", "test", "tests", "pytest", "src"}
    )
    try:
        assert check_name(name) == name
    except ConfigurationError as exc:
        assert not usable, (name, exc)
        assert repr(name) in str(exc)
    else:
        assert usable, name


RUNTIME = Runtime()
TRIGGERS = [f"{r.component.key}.{t.key}" for r in RUNTIME.registry for t in r.component.triggers]
SCHEMA = Draft202012Validator(editor_schema(RUNTIME.registry))


@pytest.mark.parametrize("ref", TRIGGERS)
def test_a_new_flow_for_each_trigger_validates(ref: str) -> None:
    text = trigger_flow(RUNTIME.registry, ref)
    flow = RUNTIME.load_flow_text(text, "new.yaml")
    assert flow.trigger is not None
    doc = parse_yaml(text, "new.yaml")
    assert list(SCHEMA.iter_errors(doc.data)) == []
    component, _, key = ref.partition(".")
    declared = RUNTIME.registry.require(component).component.trigger(key)
    assert declared is not None
    written = doc.data["trigger"]["inputs"]
    for spec in declared.inputs:
        assert (spec.key in written) == spec.required, spec.key
        if not spec.required:
            assert f"# {spec.key}: " in text


_TYPES = ["string", "integer", "number", "boolean", "password", "code", "date", "timestamp"]


@st.composite
def trigger_inputs(draw: st.DrawFn) -> tuple[Input, ...]:
    keys = draw(
        st.lists(st.from_regex(r"[A-Za-z][A-Za-z0-9_.:-]{0,8}", fullmatch=True), max_size=6)
    )
    out: list[Input] = []
    for key in dict.fromkeys(keys):
        kind = draw(st.sampled_from(_TYPES))
        choices: tuple[Choice, ...] = ()
        if kind == "string" and draw(st.booleans()):
            values = draw(st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=3))
            choices = tuple(Choice(value=v) for v in dict.fromkeys(values))
        collection = draw(st.sampled_from([None, "valuelist"]))
        default: Any = NO_DEFAULT
        if kind in ("string", "integer") and collection is None and draw(st.booleans()):
            default = (
                draw(st.sampled_from([c.value for c in choices]))
                if choices
                else draw(st.text(max_size=6) if kind == "string" else st.integers())
            )
        out.append(
            Input(
                key=key,
                label=draw(st.text(max_size=10)) or key,
                type=kind,  # type: ignore[arg-type]
                required=draw(st.booleans()),
                collection=collection,  # type: ignore[arg-type]
                choices=choices,
                default=default,
            )
        )
    if draw(st.booleans()):
        out.append(Input(key="connection", label="Connection", type="connection", required=True))
    return tuple(out)


def _ignore(ctx: Any, request: Any, params: Any) -> None:
    return None


@given(trigger_inputs())
def test_a_new_flow_validates_for_any_trigger(inputs: tuple[Input, ...]) -> None:
    component = Component(
        key="gen",
        label="Gen",
        description="Generated.",
        connections=(
            Connection(
                key="k",
                label="K",
                kind="api_key",
                api_base_url="https://gen.test",
                inputs=(Input(key="apiKey", label="Key", type="password", required=True),),
            ),
        ),
        triggers=(
            Trigger(
                key="hook",
                label="Hook",
                description="A webhook.",
                kind="webhook",
                inputs=inputs,
                perform=_ignore,
            ),
        ),
    )
    runtime = Runtime(plugins=[ComponentPlugin(component), builtins], load_entry_points=False)
    text = trigger_flow(runtime.registry, "gen.hook")
    runtime.load_flow_text(text, "new.yaml")  # no problem at all
    written = parse_yaml(text, "new.yaml").data["trigger"]["inputs"]
    assert sorted(written or {}) == sorted(i.key for i in inputs if i.required)
    for spec in inputs:
        if spec.required and spec.has_default:
            assert written[spec.key] == spec.default


def test_the_calendly_trigger_flow_fills_what_it_can() -> None:
    text = trigger_flow(RUNTIME.registry, "calendly.calendlyTrigger", name="Bookings")
    data = parse_yaml(text, "f.yaml").data
    assert data["name"] == "Bookings"
    assert data["config"]["calendly"] == {
        "type": "connection",
        "component": "calendly",
        "connection": "calendlyOauth2Connection",
    }
    inputs = data["trigger"]["inputs"]
    assert inputs["connection"] == "${{ config.calendly }}"
    assert inputs["scope"] == "organization"
    assert inputs["eventNamesInput"] == ["invitee.created"]
    assert inputs["organization"] == "${{ config.organization }}"


def test_relay_new_flow_writes_the_file_and_names_a_bad_trigger(tmp_path: Path) -> None:
    target = tmp_path / "new.yaml"
    args = ["new", "flow", "--trigger", "calendly.calendlyTrigger", "-o", str(target)]
    made = CliRunner().invoke(cli, args)
    assert made.exit_code == 0, made.output
    checked = CliRunner().invoke(cli, ["validate", str(target)])
    assert checked.exit_code == 0, checked.output
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 2 and "--output" in again.stderr
    for bad, said in (
        ("calendly.nope", "has no trigger 'nope' (its triggers: calendlyTrigger, pollChanges"),
        ("nope.trigger", "unknown component 'nope'"),
        ("calendly", "expected COMPONENT.TRIGGER"),
    ):
        result = CliRunner().invoke(cli, ["new", "flow", "--trigger", bad])
        assert result.exit_code == 1, bad
        assert f"--trigger {bad!r}" in result.stderr and said in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
