"""Meta-tests that keep the code, docs and shipped files honest."""

from __future__ import annotations

import ast
import inspect
import json
import re
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from pluggy import HookCaller

import runtime
from runtime import hookspecs
from runtime.plugins import make_plugin_manager
from runtime.schemas import load_schema, schema_names

ROOT = Path(__file__).resolve().parent.parent
HTTPX_MODULES = {"runtime/http.py", "runtime/transport.py", "runtime/oauth.py"}
#: The sandbox is a separate server (a fake Calendly), not component code: it may send webhooks.
HTTPX_FREE_EXCEPT = "components/calendly/sandbox/"


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def _python_files(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def test_public_api_is_sorted_and_complete() -> None:
    assert runtime.__all__ == sorted(runtime.__all__)
    for name in runtime.__all__:
        assert hasattr(runtime, name), name


def test_components_import_only_the_public_runtime_api() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in _python_files("components")
        for name in _imports(path)
        if name.startswith("runtime.")
    ]
    assert offenders == []


def test_httpx_is_imported_in_one_place() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for path in _python_files("runtime", "components")
        if "httpx" in _imports(path)
        and str(path.relative_to(ROOT)) not in HTTPX_MODULES
        and not str(path.relative_to(ROOT)).startswith(HTTPX_FREE_EXCEPT)
    ]
    assert offenders == []


def _hooks() -> dict[str, HookCaller]:
    """Every hook relay's plugin manager knows, by name (what a plugin may implement)."""
    pm = make_plugin_manager(load_entry_points=False)
    return {name: caller for name, caller in vars(pm.hook).items() if caller.spec is not None}


#: What a firstresult hook's docstring must say, so implementers know later ones may not run.
FIRST_RESULT = "Stops at first non-None result"


def _doc_problems(name: str, doc: str, argnames: tuple[str, ...], firstresult: bool) -> list[str]:
    """What a hook's docstring leaves out: when it is called, each argument, what it returns."""
    problems = [f"{name}: does not describe {arg!r}" for arg in argnames if arg not in doc]
    if "Called" not in doc:
        problems.append(f"{name}: says nothing of when it is called")
    if "Return" not in doc:
        problems.append(f"{name}: says nothing of what it returns")
    if firstresult and FIRST_RESULT not in doc:
        problems.append(f"{name}: firstresult but does not say {FIRST_RESULT!r}")
    return problems


def _implemented_in(source: str) -> set[str]:
    """Names of the ``@hookimpl`` functions and methods defined in ``source``."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and any(
            (d.id if isinstance(d, ast.Name) else getattr(d, "attr", "")) == "hookimpl"
            for d in node.decorator_list
        ):
            names.add(node.name)
    return names


def test_the_hooks_come_from_the_plugin_manager() -> None:
    hooks = _hooks()
    assert "register_components" in hooks  # the one every component implements
    specced = {
        n for n, f in inspect.getmembers(hookspecs, inspect.isfunction) if hasattr(f, "relay_spec")
    }
    assert set(hooks) == specced


@pytest.mark.parametrize("name", sorted(_hooks()))
def test_every_hook_is_documented(name: str) -> None:
    spec = _hooks()[name].spec
    assert spec is not None
    doc = inspect.getdoc(spec.function) or ""
    assert _doc_problems(name, doc, spec.argnames, bool(spec.opts.get("firstresult"))) == []


def test_the_hook_doc_check_catches_what_it_is_for() -> None:
    assert len(_doc_problems("h", "Does things.", ("cli",), firstresult=True)) == 4
    full = f"Called once. ``cli`` is the group. Returns nothing. {FIRST_RESULT}."
    assert _doc_problems("h", full, ("cli",), firstresult=True) == []


@pytest.mark.parametrize("name", sorted(_hooks()))
def test_every_hook_is_exercised_by_a_test(name: str) -> None:
    """Some test plugin implements the hook (the test module runs it through relay)."""
    implementers = [
        path.relative_to(ROOT)
        for path in _python_files("tests")
        if path.name != "test_meta.py"
        and path.name.startswith("test_")
        and name in _implemented_in(path.read_text(encoding="utf-8"))
    ]
    assert implementers, f"no test implements the {name} hook"


def test_the_implementation_scan_catches_what_it_is_for() -> None:
    sample = "@hookimpl\ndef a(): ...\nclass P:\n    @runtime.hookimpl\n    def b(self): ...\ndef c(): ...\n"
    assert _implemented_in(sample) == {"a", "b"}


@pytest.mark.parametrize("name", schema_names())
def test_shipped_schemas_are_valid(name: str) -> None:
    Draft202012Validator.check_schema(load_schema(name))


def test_schemas_ship_as_files_in_schemas_dir() -> None:
    names = sorted(p.name for p in (ROOT / "schemas").glob("*.schema.json"))
    assert "flow.schema.json" in names
    for path in (ROOT / "schemas").glob("*.json"):
        json.loads(path.read_text())


@pytest.mark.parametrize("flow", sorted((ROOT / "flows").glob("*.yaml")), ids=lambda p: p.name)
def test_every_shipped_flow_validates(flow: Path) -> None:
    runtime.Runtime().load_flow(flow)


def test_readme_quick_start_is_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.findall(r"^\s*(make \w+)\s*$", quick, re.M)
    assert commands == ["make demo", "make test"]


def test_makefile_targets_exist() -> None:
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test:", "demo:", "bench:"):
        assert re.search(rf"^{target}", makefile, re.M), target


#: Folders that are not the project's own files (tools' caches, builds, the virtualenv).
_NOT_OURS = {".git", ".venv", ".mypy_cache", ".ruff_cache", ".hypothesis", ".benchmarks", "build"}
# Assembled from pieces so this file does not match its own patterns.
_OUTSIDE = "sha" + "red"
_OUTSIDE_PATTERNS = re.compile(
    "|".join(
        (
            rf"{_OUTSIDE}[/\\]+calendly",  # the folder beside the checkout
            rf"\.\.[/\\]+{_OUTSIDE}\b",  # ../<it>
            rf"""['"]\.\.['"]\s*/\s*['"]{_OUTSIDE}['"]""",  # Path(...) / ".." / "<it>"
            rf"""['"]{_OUTSIDE}['"]\s*/\s*['"]calendly['"]""",
            "API" + "-NOTES",  # the names of the files that live there
            "component-reference" + r"\.md",
        )
    )
)


def _project_text_files() -> list[Path]:
    files = []
    for path in sorted(ROOT.rglob("*")):
        parts = path.relative_to(ROOT).parts
        ours = not any(
            p in _NOT_OURS or p.endswith(".egg-info") or p == "__pycache__" for p in parts
        )
        if ours and path.is_file() and path.suffix not in {".pyc", ".db", ".sqlite"}:
            files.append(path)
    return files


def test_the_outside_pattern_catches_what_it_is_for() -> None:
    for sample in (
        "/".join(("..", _OUTSIDE, "calendly", "openapi.yaml")),
        'Path(__file__).parents[2] / ".." / "' + _OUTSIDE + '" / "calendly"',
        "see API" + "-NOTES 5",
    ):
        assert _OUTSIDE_PATTERNS.search(sample), sample
    assert not _OUTSIDE_PATTERNS.search("a limit shared by every worker")


def test_nothing_in_the_repository_reads_beside_the_checkout() -> None:
    """A user's clone has nothing beside it: code, tests, bench, Makefile, CI scripts and
    pyproject keep their data inside the repository."""
    offenders = []
    for path in _project_text_files():
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue  # binary files name no paths a test could follow
        for number, line in enumerate(text.splitlines(), 1):
            if _OUTSIDE_PATTERNS.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
