"""``relay test``: run the flow test files under PATHS, with flow coverage."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import click
from rich.markup import escape
from rich.table import Table

from runtime.cli.common import err, handle_errors, out
from runtime.cli.state import new_runtime

if TYPE_CHECKING:
    from runtime.flowtests.suite import SuiteResult


def _report_kind(
    _ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]
) -> list[tuple[str, str | None]]:
    chosen = []
    for value in values:
        kind, _, target = value.partition(":")
        if kind not in ("json", "html"):
            raise click.BadParameter(f"{value!r}: give json or html, optionally :PATH")
        chosen.append((kind, target or None))
    return chosen


@click.command("test")
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "-k",
    "keyword",
    metavar="EXPR",
    help="Only cases whose FILE::NAME matches EXPR (words, and/or/not).",
)
@click.option(
    "--junit-xml",
    "junit",
    type=click.Path(dir_okay=False),
    help="Write a JUnit XML report to FILE.",
)
@click.option("--update", is_flag=True, help="Store the values snapshot assertions gave.")
@click.option(
    "-n",
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes.",
)
@click.option(
    "--cov-report",
    "reports",
    multiple=True,
    callback=_report_kind,
    metavar="json|html[:PATH]",
    help="Also write the coverage report (default relay-coverage.json / relay-coverage/).",
)
@click.option(
    "--cov-fail-under",
    type=click.FloatRange(0, 100),
    help="Fail when flow coverage is under N percent.",
)
@handle_errors
def test_command(
    paths: tuple[str, ...],
    keyword: str | None,
    junit: str | None,
    update: bool,
    workers: int,
    reports: list[tuple[str, str | None]],
    cov_fail_under: float | None,
) -> None:
    """Run the flow tests under PATHS (default flows/), each case in a fresh sandbox.

    The tests are every tests/test_*.yaml beneath PATHS; flow coverage (steps, branches,
    on_error paths) follows as a table.

    A case that fails shows the assertion, the values it saw and the steps of its run.
    """
    from runtime.flowtests.report import (
        junit_xml,
        summary,
        write_coverage,
    )
    from runtime.flowtests.suite import run_suite

    started = time.perf_counter()
    suite = run_suite(
        paths or ("flows",), keyword=keyword, workers=workers, update=update, runtime=new_runtime()
    )
    _print_results(suite)
    for kind, target in reports:
        out.print(f"coverage report: {write_coverage(suite.coverage, kind, target)}", markup=False)
    if junit:
        Path(junit).write_bytes(junit_xml(suite))
    for written in suite.written:
        out.print(f"snapshots written: {written}", markup=False)
    counts = summary(suite)
    line = ", ".join(f"{n} {k}" for k, n in counts.items() if n) or "no cases"
    if suite.problems:
        line += f", {len(suite.problems)} problem(s) in test files"
    out.print(f"{line} in {time.perf_counter() - started:.2f}s", markup=False)
    failed = not suite.ok or not suite.results
    percent = suite.coverage.percent()
    if cov_fail_under is not None and percent < cov_fail_under:
        err.print(
            f"flow coverage {percent:.1f}% is under --cov-fail-under {cov_fail_under:g}",
            markup=False,
        )
        failed = True
    if failed:
        sys.exit(1)


_MARKS = {
    "passed": "[green]PASSED[/green]",
    "failed": "[red]FAILED[/red]",
    "error": "[red]ERROR[/red]",
}


def _print_results(suite: SuiteResult) -> None:
    from runtime.flowtests.report import coverage_rows, failure_text

    for problem in suite.problems:
        err.print(str(problem), markup=False)
    for result in suite.results:
        out.print(f"{_MARKS[result.outcome]} {escape(result.id)}")
    for result in suite.results:
        if not result.ok:
            out.print("")
            out.print(failure_text(result), markup=False)
    if suite.coverage.flows:
        table = Table(
            "flow", "steps", "branches", "on_error", "cover", "missing", title="flow coverage"
        )
        for column in table.columns:
            column.overflow = "fold"
        for row in coverage_rows(suite.coverage):
            table.add_row(*(escape(cell) for cell in row))
        out.print(table)
