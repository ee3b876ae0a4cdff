"""``python -m bench [NAME ...] [--quick] [--no-record]``: run figures, print one line each,
append the results to BENCHMARKS.md."""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import sys
import time
from collections.abc import Callable

from bench import (
    fig_coldstart,
    fig_dashboard,
    fig_engine,
    fig_flowtests,
    fig_ingest,
    fig_listing,
    fig_pagination,
    fig_retention,
    fig_validation,
    fig_workers,
)
from bench.common import ROOT, Figure, machine

FIGURES: dict[str, Callable[[bool], Figure]] = {
    "engine": fig_engine.run,
    "ingest": fig_ingest.run,
    "pagination": fig_pagination.run,
    "coldstart": fig_coldstart.run,
    "validation": fig_validation.run,
    "workers": fig_workers.run,
    "listing": fig_listing.run,
    "retention": fig_retention.run,
    "flowtests": fig_flowtests.run,
    "dashboard": fig_dashboard.run,
}


def record(figures: list[Figure], command: str, quick: bool, seconds: float, path: str) -> None:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    load = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    lines = [
        "",
        f"## Run {now}{' (quick)' if quick else ''}",
        "",
        f"- machine: {machine()}; load average before the run {load}",
        f"- command: `{command}` ({seconds:.0f} s)",
        "",
    ]
    for fig in figures:
        verdict = "" if fig.ok is None else (" - target met" if fig.ok else " - target NOT met")
        lines += [
            f"### {fig.title}{verdict}",
            "",
            f"`{fig.line}`",
            "",
            "| measure | median [min..max] |",
            "|---|---|",
        ]
        lines += [f"| {name} | {value} |" for name, value in fig.rows]
        lines += ["", f"What limits it: {fig.limits}", ""]
    with open(path, "a", encoding="utf-8") as out:
        out.write("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    from runtime.logs import configure_logging

    configure_logging("warning")  # as relay's own processes log (importing runtime sets nothing)
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"figures to run (default all): {', '.join(FIGURES)}",
    )
    parser.add_argument("--quick", action="store_true", help="fewer rounds and requests")
    parser.add_argument("--no-record", action="store_true", help="do not append to BENCHMARKS.md")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="where to record")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in FIGURES]
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    start = time.perf_counter()
    figures = []
    for name in args.names or list(FIGURES):
        fig = FIGURES[name](args.quick)
        print(fig.line, flush=True)
        figures.append(fig)
    seconds = time.perf_counter() - start
    if not args.no_record:
        command = "python -m bench " + " ".join(
            shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
        )
        record(figures, command.strip(), args.quick, seconds, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
