"""relay's pytest plugin (entry point ``pytest11``): ``pytest`` collects flow test files
(``tests/test_*.yaml``) beside the user's own tests, one item per case, and offers fixtures
for hand-written tests: ``relay_sandbox`` (a fresh test sandbox), ``relay_runtime`` (a
runtime whose requests reach it) and ``relay_requests`` (every request that runtime made).

Loaded in every pytest run of a project that installs relay, so this module imports nothing
of relay's until a flow test file or a fixture is used.
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from runtime.flowtests.model import Case, TestFile
    from runtime.flowtests.runner import CaseResult, Session

_SESSION = pytest.StashKey["Session"]()


def _session(config: pytest.Config) -> Session:
    found = config.stash.get(_SESSION, None)
    if found is None:
        from runtime.flowtests.runner import Session

        found = config.stash[_SESSION] = Session()
    return found


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker that picks a test sandbox."""
    config.addinivalue_line(
        "markers", "relay_sandbox(component): the component whose test sandbox to use"
    )


#: A flow test file names its flow and its cases at the top level.
_LOOKS_LIKE = re.compile(r"^flow\s*:.*^cases\s*:|^cases\s*:.*^flow\s*:", re.M | re.S)
_FLOW_TESTS = re.compile(r"^tests\s*:", re.M)
_STEPS = re.compile(r"^steps\s*:", re.M)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A flow test file: ``test_*.yaml`` / ``test_*.yml`` in a folder named ``tests`` with
    top-level ``flow:`` and ``cases:`` (another YAML file a project keeps there is not one);
    or a flow with a ``tests:`` section."""
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    named = file_path.name.startswith("test_") and file_path.parent.name == "tests"
    if (named and _looks_like(file_path)) or _has_tests(file_path):
        collected: pytest.Collector = FlowTestFile.from_parent(parent, path=file_path)
        return collected
    return None


def _head(path: Path) -> str | None:
    try:
        with path.open(encoding="utf-8", errors="replace") as handle:
            return handle.read(1_000_000)
    except OSError:
        return None


def _looks_like(path: Path) -> bool:
    head = _head(path)
    return head is None or _LOOKS_LIKE.search(head) is not None  # unreadable: it says so


def _has_tests(path: Path) -> bool:
    """A flow with a ``tests:`` section (top-level ``steps:`` and ``tests:``)."""
    head = _head(path) or ""
    return _FLOW_TESTS.search(head) is not None and _STEPS.search(head) is not None


class FlowTestFile(pytest.File):
    """One flow test file: an item per case (or one failing item naming its problems)."""

    def collect(self) -> Iterator[pytest.Item]:
        """The cases, or the problems that keep the file from loading."""
        from runtime.errors import FlowError

        try:
            loaded = _session(self.config).load(str(self.path))
        except FlowError as exc:
            yield ProblemsItem.from_parent(
                self, name="loads", problems=[str(p) for p in exc.problems]
            )
            return
        for case in loaded.cases:
            yield FlowTestItem.from_parent(self, name=case.name, file=loaded, case=case)


class CaseFailed(Exception):
    """A flow test case that failed (its result says how)."""

    def __init__(self, result: CaseResult) -> None:
        super().__init__(result.id)
        self.result = result


class FlowTestItem(pytest.Item):
    """One case of a flow test file, run as ``relay test`` runs it."""

    def __init__(self, *, file: TestFile, case: Case, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.file = file
        self.case = case

    def runtest(self) -> None:
        """Run the case in a fresh sandbox; a failure carries its result."""
        from runtime.flowtests.runner import read_snapshots

        snapshots = read_snapshots(self.file.path).get(self.case.name, {})
        result = asyncio.run(_session(self.config).run(self.file, self.case, snapshots))
        if not result.ok:
            raise CaseFailed(result)

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        """The assertion, the values it saw and the steps, without a traceback."""
        if isinstance(excinfo.value, CaseFailed):
            from runtime.flowtests.report import failure_text

            return failure_text(excinfo.value.result)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        """Where the case is written."""
        return self.path, self.case.place.line - 1, f"flow test {self.case.name}"


class ProblemsItem(pytest.Item):
    """A test file that does not load: fails with every problem at its place."""

    def __init__(self, *, problems: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.problems = problems

    def runtest(self) -> None:
        """Fail with the problems."""
        raise CaseFailedToLoad("\n".join(self.problems))

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None
    ) -> str | Any:
        """The problems, one per line."""
        if isinstance(excinfo.value, CaseFailedToLoad):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        """The file."""
        return self.path, 0, "flow test file"


class CaseFailedToLoad(Exception):
    """A flow test file with problems."""


# -- fixtures for hand-written tests --------------------------------------------------------


class _Kit:
    def __init__(self, request: pytest.FixtureRequest) -> None:
        from runtime.clock import ManualClock
        from runtime.flowtests.doubles import Recorder
        from runtime.flowtests.runner import START

        session = _session(request.config)
        marker = request.node.get_closest_marker("relay_sandbox")
        name = marker.args[0] if marker is not None and marker.args else None
        if name is None:
            if len(session.sandboxes) != 1:
                offered = ", ".join(sorted(session.sandboxes)) or "none"
                pytest.fail(f"mark the test @pytest.mark.relay_sandbox(NAME) (offered: {offered})")
            name = next(iter(session.sandboxes))
        if name not in session.sandboxes:
            pytest.fail(
                f"no test sandbox {name!r} (offered: {', '.join(sorted(session.sandboxes))})"
            )
        self.clock = ManualClock(now=START)
        self.sandbox = session.new_sandbox(name, self.clock)
        self.recorder = Recorder()
        self.runtime = session.case_runtime(self.clock, self.sandbox, self.recorder)


@pytest.fixture
def _relay_kit(request: pytest.FixtureRequest) -> _Kit:
    return _Kit(request)


@pytest.fixture
def relay_sandbox(_relay_kit: _Kit) -> Any:
    """A fresh test sandbox (``@pytest.mark.relay_sandbox(NAME)`` picks the component when
    several offer one): ``await relay_sandbox.act("book", {...})``, ``.facts()``, and for
    Calendly ``.sandbox``, the ``Sandbox`` itself."""
    return _relay_kit.sandbox


@pytest.fixture
def relay_runtime(_relay_kit: _Kit) -> Any:
    """A ``Runtime`` whose requests reach ``relay_sandbox`` (on a ``ManualClock`` at the
    sandbox's time)."""
    return _relay_kit.runtime


@pytest.fixture
def relay_requests(_relay_kit: _Kit) -> list[dict[str, Any]]:
    """Every request ``relay_runtime`` made: method, host, path, query, body, status."""
    return _relay_kit.recorder.requests
