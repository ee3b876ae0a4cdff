"""One broken installed plugin stops nothing else: it is left out and reported once, naming
it and the cause; a flow that uses its component fails validation saying why.

The plugins here are real distributions on ``sys.path`` (a ``*.dist-info`` folder with an
``entry_points.txt`` beside the module), found by ``importlib.metadata`` as pip's would be.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from relay_processes import relay_env, run_relay

from runtime import ConfigurationError, FlowError, PluginError, Runtime
from runtime.cli import add_plugin_commands, cli
from runtime.cli.group import make_group

ROOT = Path(__file__).resolve().parents[2]

GOOD_COMPONENT = """\
from runtime import Action, Component, Input, hookimpl


def _echo(ctx, params):
    return {"text": params["text"]}


COMPONENT = Component(
    key="{key}", label="{key}", description="A test component.",
    actions=(
        Action(key="echo", label="Echo", description="Echo.",
               inputs=(Input(key="text", label="Text", required=True),), perform=_echo),
    ),
)
"""

#: Module source by case: each is broken in its own way.
BROKEN = {
    "import": "import no_such_module_anywhere\n",
    "syntax": "def oops(:\n",
    "misspelled": "from runtime import hookimpl\n\n@hookimpl\ndef register_component(register):\n"
    "    pass\n",
    "raises": "from runtime import hookimpl\n\n@hookimpl\ndef register_components(register):\n"
    "    raise RuntimeError('the vendor SDK is missing')\n",
    "invalid": GOOD_COMPONENT.replace('key="echo"', 'key="bad key"')
    + "\n@hookimpl\ndef register_components(register):\n    register(COMPONENT)\n",
    "partway": GOOD_COMPONENT
    + "\n@hookimpl\ndef register_components(register):\n    register(COMPONENT)\n"
    "    raise ValueError('second component failed')\n",
    "hosts": GOOD_COMPONENT
    + "\n@hookimpl\ndef register_components(register):\n    register(COMPONENT)\n"
    "\n@hookimpl\ndef in_process_hosts():\n    raise OSError('no sandbox')\n",
}
COMMANDS_RAISE = (
    GOOD_COMPONENT + "\n@hookimpl\ndef register_components(register):\n    register(COMPONENT)\n"
    "\n@hookimpl\ndef register_commands(cli):\n    raise KeyError('cli')\n"
)

CAUSES = {
    "import": "ModuleNotFoundError: No module named 'no_such_module_anywhere'",
    "syntax": "SyntaxError",
    "misspelled": "register_component",
    "raises": "register_components failed: RuntimeError: the vendor SDK is missing",
    "invalid": "action 'bad key': key is not valid",
    "partway": "register_components failed: ValueError: second component failed",
    "hosts": "in_process_hosts failed: OSError: no sandbox",
}


def install(site: Path, name: str, source: str) -> None:
    """A distribution ``relay-NAME`` whose module ``relay_NAME`` is ``source``, with an entry
    point ``NAME`` in relay's group."""
    (site / f"relay_{name}.py").write_text(source.replace("{key}", name))
    info = site / f"relay_{name}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: relay-{name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[relay.components]\n{name} = relay_{name}\n")


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


FLOW = """\
name: uses it
steps:
  - id: a
    action: {key}.echo
    inputs: {{text: hi}}
"""


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_plugin_is_left_out_and_the_rest_works(site: Path, case: str) -> None:
    install(site, case, BROKEN[case])
    install(
        site,
        "fine",
        GOOD_COMPONENT + "\n@hookimpl\ndef register_components(register):\n"
        "    register(COMPONENT)\n",
    )
    runtime = Runtime()
    broken = runtime.registry.broken
    assert list(broken) == [case]
    assert CAUSES[case] in broken[case].cause
    assert str(broken[case]).startswith(f"plugin {case!r} was left out: ")
    # everything else keeps working: the other plugins and relay's own components
    assert {"calendly", "relay", "fine"} <= {r.component.key for r in runtime.registry}
    assert runtime.registry.get(case) is None
    runtime.load_flow_text(FLOW.format(key="fine"))
    with pytest.raises(FlowError) as info:
        runtime.load_flow_text(FLOW.format(key=case), "f.yaml")
    (problem,) = info.value.problems
    assert str(problem).startswith("f.yaml:4:13: steps[0].action: ")
    assert f"component {case!r} is unavailable: plugin {case!r} was left out" in problem.message
    assert CAUSES[case] in problem.message


def test_a_plugin_given_explicitly_still_fails_loudly() -> None:
    class Raises:
        __name__ = "mine"

        from runtime import hookimpl

        @hookimpl
        def register_components(self, register: object) -> None:
            raise RuntimeError("boom")

    with pytest.raises(PluginError, match="plugin 'mine': register_components failed"):
        Runtime(plugins=[Raises()], load_entry_points=False)


def test_calling_a_left_out_component_says_why(site: Path) -> None:
    install(site, "raises", BROKEN["raises"])
    runtime = Runtime()
    with pytest.raises(ConfigurationError, match="unavailable: plugin 'raises' was left out"):
        runtime.registry.require("raises")


def test_relay_commands_report_it_once_and_keep_working(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install(site, "raises", BROKEN["raises"])
    flow = tmp_path / "uses.yaml"
    flow.write_text(FLOW.format(key="raises"))
    env = relay_env(tmp_path / "home", PYTHONPATH=str(site))
    listing = run_relay("components", env=env)
    assert listing.returncode == 0, listing.stderr
    assert "calendly" in listing.stdout
    warning = (
        "warning: plugin 'raises' was left out: register_components failed: "
        "RuntimeError: the vendor SDK is missing"
    )
    assert listing.stderr.count(warning) == 1, listing.stderr
    assert "Traceback" not in listing.stderr
    good = run_relay("validate", "flows/booking-follow-up.yaml", env=env, cwd=ROOT)
    assert good.returncode == 0, good.stderr
    assert good.stderr.count("warning: plugin 'raises'") == 1
    bad = run_relay("validate", str(flow), env=env)
    assert bad.returncode == 1
    assert "component 'raises' is unavailable" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_a_plugin_whose_commands_hook_raises_leaves_the_group_working(site: Path) -> None:
    install(site, "commands", COMMANDS_RAISE)
    group = make_group()
    group.plugin_commands = add_plugin_commands
    result = CliRunner().invoke(group, ["--help"])
    assert result.exit_code == 0, result.output
    assert "sandbox" in result.stdout  # calendly's commands are still there
    warning = "warning: plugin 'commands' was left out: register_commands failed: KeyError: 'cli'"
    assert result.stderr.count(warning) == 1
    components = CliRunner().invoke(cli, ["components"])
    assert components.exit_code == 0
    assert "calendly" in components.stdout
