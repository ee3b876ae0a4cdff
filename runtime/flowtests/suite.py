"""A suite: the test files under some paths, the cases ``-k`` selects, run one after another
or spread over worker processes, with their coverage summed up."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import TYPE_CHECKING, Any

from attrs import define, field

from runtime.errors import FlowError, Problem
from runtime.flowtests.coverage import Coverage
from runtime.flowtests.keywords import keyword_matcher
from runtime.flowtests.runner import CaseResult, Session, discover, read_snapshots, write_snapshots

if TYPE_CHECKING:
    from collections.abc import Iterable

    from runtime.api import Runtime
    from runtime.flowtests.model import Case, TestFile


@define
class SuiteResult:
    """Every case's result, the suite's coverage and the test files that did not load."""

    results: list[CaseResult] = field(factory=list)
    coverage: Coverage = field(factory=Coverage)
    problems: list[Problem] = field(factory=list)
    files: int = 0
    #: Snapshot files written by ``update``.
    written: list[str] = field(factory=list)

    @property
    def ok(self) -> bool:
        """Every case passed and every file loaded."""
        return not self.problems and all(r.ok for r in self.results)


# -- running -------------------------------------------------------------------------------


def load_suite(
    session: Session, paths: Iterable[str], keyword: str | None = None
) -> tuple[list[tuple[TestFile, Case]], list[Problem], int]:
    """The selected cases of every test file under ``paths``, the problems of the files that
    did not load, and how many files there were."""
    matches = keyword_matcher(keyword) if keyword else None
    chosen: list[tuple[TestFile, Case]] = []
    problems: list[Problem] = []
    try:
        files = discover(paths)
    except FlowError as exc:
        return [], list(exc.problems), 0
    for path in files:
        try:
            loaded = session.load(path)
        except FlowError as exc:
            problems.extend(exc.problems)
            continue
        chosen.extend((loaded, c) for c in loaded.cases if matches is None or matches(c.id))
    return chosen, problems, len(files)


async def _run_cases(session: Session, cases: list[tuple[TestFile, Case]]) -> list[CaseResult]:
    snapshots: dict[str, dict[str, Any]] = {}
    out = []
    for file, case in cases:
        if file.path not in snapshots:
            snapshots[file.path] = read_snapshots(file.path)
        out.append(await session.run(file, case, snapshots[file.path].get(case.name, {})))
    return out


#: The session of a worker process (made once, by ``_start_worker``).
_WORKER: Session | None = None


def _start_worker(session: Session | None) -> None:
    global _WORKER
    _WORKER = session or Session()


def _run_batch(batch: list[tuple[str, str]]) -> list[CaseResult]:
    session = _WORKER or Session()
    cases = []
    for path, name in batch:
        loaded = session.load(path)
        cases.append((loaded, next(c for c in loaded.cases if c.name == name)))
    return asyncio.run(_run_cases(session, cases))


def run_suite(
    paths: Iterable[str],
    *,
    keyword: str | None = None,
    workers: int = 1,
    update: bool = False,
    runtime: Runtime | None = None,
) -> SuiteResult:
    """Load and run the suite; ``workers`` > 1 spreads the cases over that many processes
    (each with its own components and sandboxes); ``update`` stores observed snapshots."""
    session = Session(runtime)
    cases, problems, count = load_suite(session, paths, keyword)
    suite = SuiteResult(problems=problems, files=count)
    if workers > 1 and len(cases) > 1:
        batches: list[list[tuple[str, str]]] = [[] for _ in range(min(workers, len(cases)))]
        for index, (file, case) in enumerate(cases):
            batches[index % len(batches)].append((file.path, case.name))
        # fork where there is one: the workers start with the components already imported
        # (and the session with them, its files loaded: nothing is imported or loaded again)
        fork = "fork" in multiprocessing.get_all_start_methods()
        context = multiprocessing.get_context("fork" if fork else "spawn")
        with ProcessPoolExecutor(
            len(batches),
            mp_context=context,
            initializer=_start_worker,
            initargs=(session if fork else None,),
        ) as pool:
            done = list(pool.map(_run_batch, batches))
        by_id = {r.id: r for batch in done for r in batch}
        suite.results = [by_id[case.id] for _file, case in cases]
    else:
        suite.results = asyncio.run(_run_cases(session, cases))
    flows = {file.flow_path: file.flow for file, _case in cases}
    for result in suite.results:
        if result.flow in flows:
            suite.coverage.add(result.flow, flows[result.flow], result.reached)
    for file, _case in cases:  # a flow whose cases all errored still shows, uncovered
        suite.coverage.add(file.flow_path, file.flow, ())
    if update:
        observed: dict[str, dict[str, dict[str, Any]]] = {}
        for result in suite.results:
            if result.snapshots:
                observed.setdefault(result.file, {})[result.name] = result.snapshots
        suite.written = [str(write_snapshots(path, values)) for path, values in observed.items()]
        for result in suite.results:  # what was stored now holds
            if result.outcome == "failed" and result.snapshots:
                result.failures = [
                    f for f in result.failures if f.assertion not in result.snapshots
                ]
                if not result.failures:
                    result.outcome = "passed"
    return suite
