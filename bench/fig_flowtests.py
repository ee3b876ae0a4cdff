"""Figure 7, flow tests: a suite of 100 cases of the booking follow-up flow (its sample
delivery as payload, five assertions each) against the in-process sandbox, per case, vs the
same flow run once through ``Runtime.run`` with a fresh in-process sandbox and token store per
run; then the suite's cases/s through ``run_suite`` with 1 and 2 worker processes.

Both sides share one ``Runtime`` (components loaded once) and pay, per case, a fresh seeded
sandbox and a fresh token store (so an OAuth authorization each); the case adds what a test
adds: the recording router, the assertions' scope and their evaluation, the coverage items."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, Figure, median, spread

TARGET = 1.5
CASES = 100
FLOW = ROOT / "flows" / "booking-follow-up.yaml"
SAMPLES = ROOT / "flows" / "samples"
CONFIG: dict[str, Any] = {
    "calendly": {
        "clientId": "sandbox-client-id",
        "clientSecret": "sandbox-client-secret",
        "useLiveServer": False,
    },
    "organization": "TUANV24OXUSEUMYM",
    "followUpEventType": "HDWNG6N3G3J7OPUS",
}
ASSERTIONS = (
    "status == 'completed'",
    "branches.route == 'booked'",
    "loops.pastMeetings == steps.history.output.data.size()",
    "steps.followUpLink.output.data.resource.owner.endsWith('/event_types/HDWNG6N3G3J7OPUS')",
    "requests.exists(r, r.method == 'POST' && r.path == '/shares')",
)

#: What limits this figure, as last profiled (recorded with each run).
LIMITS = (
    "each case's fresh sandbox (seeding its state) and OAuth authorization are on both sides; "
    "a case adds the assertions' scope (the run's record as stored: redaction of every "
    "output), five CEL evaluations over it and the request recorder."
)


def suite_text(cases: int) -> str:
    lines = [f"flow: {FLOW}", f"config: {json.dumps(CONFIG)}", "cases:"]
    for index in range(cases):
        lines += [
            f"  - name: case {index}",
            f"    payload_file: {SAMPLES / 'booking-follow-up.payload.json'}",
            "    expect:",
            *(f"      - {json.dumps(a)}" for a in ASSERTIONS),
        ]
    return "\n".join(lines) + "\n"


async def baseline(runtime: Any, flow: Any, payload: Any, n: int) -> float:
    """``n`` runs, each with a fresh in-process sandbox and token store; seconds per run."""
    from components.calendly.sandbox import Sandbox, SandboxConfig
    from components.calendly.sandbox.testing import BASE_URL
    from runtime import InMemoryTokenStore, ManualClock
    from runtime.logs import runtime_logger
    from runtime.redaction import Redactor
    from runtime.transport import HostRouter

    start = time.perf_counter()
    for _ in range(n):
        clock = ManualClock(now=1_767_225_600.0)
        sandbox = Sandbox(SandboxConfig(base_url=BASE_URL), clock=clock.time, sleep=clock.sleep)
        rt = runtime.using(token_store=InMemoryTokenStore())
        rt.redactor = Redactor()  # this run's secrets only, as a case has
        rt.logger = runtime_logger(runtime.logger, rt.redactor)
        rt.clock = clock
        rt.hosts = {**runtime.hosts, BASE_URL.split("://", 1)[1]: sandbox.app}
        rt.router = HostRouter(rt.hosts)
        result = await rt.run(flow, config=CONFIG, payload=payload)
        await rt.aclose()
        assert result.ok, result.error
    return (time.perf_counter() - start) / n


async def cases(session: Any, loaded: Any, n: int) -> float:
    """``n`` cases through ``Session.run``; seconds per case."""
    start = time.perf_counter()
    for case in loaded.cases[:n]:
        result = await session.run(loaded, case)
        assert result.ok, result.failures
    return (time.perf_counter() - start) / n


def run(quick: bool) -> Figure:
    from runtime.flowtests import Session
    from runtime.flowtests.suite import run_suite

    rounds, n = (3, 20) if quick else (5, CASES)
    with tempfile.TemporaryDirectory() as folder:
        tests = Path(folder) / "tests"
        tests.mkdir()
        path = tests / "test_bench.yaml"
        path.write_text(suite_text(CASES))
        session = Session()
        loaded = session.load(str(path))
        flow = session.runtime.load_flow(FLOW)
        payload = json.loads((SAMPLES / "booking-follow-up.payload.json").read_text())
        base: list[float] = []
        case: list[float] = []
        for r in range(rounds):
            for side in ("base", "case") if r % 2 == 0 else ("case", "base"):
                if side == "base":
                    base.append(asyncio.run(baseline(session.runtime, flow, payload, n)))
                else:
                    case.append(asyncio.run(cases(session, loaded, n)))
        rates: dict[int, list[float]] = {1: [], 2: []}
        for _ in range(1 if quick else 3):
            for workers in (1, 2):
                start = time.perf_counter()
                suite = run_suite([str(path)], workers=workers)
                seconds = time.perf_counter() - start
                assert suite.ok and len(suite.results) == CASES
                rates[workers].append(CASES / seconds)
    ratio = [c / b for c, b in zip(case, base, strict=True)]
    ok = median(ratio) <= TARGET
    rows = [
        ("case / Runtime.run per round", spread(ratio, 3)),
        ("case, ms", spread([x * 1000 for x in case], 2)),
        (
            "Runtime.run with a fresh sandbox and token store, ms",
            spread([x * 1000 for x in base], 2),
        ),
        (
            f"run_suite, {CASES} cases, 1 worker: cases/s (load and start included)",
            spread(rates[1], 1),
        ),
        (f"run_suite, {CASES} cases, 2 workers: cases/s", spread(rates[2], 1)),
        ("rounds x runs", f"{rounds} x {n} each side, order alternating"),
    ]
    line = (
        f"7 flow tests: a case costs {median(ratio):.3f}x a Runtime.run with a fresh sandbox "
        f"({median(case) * 1000:.1f} vs {median(base) * 1000:.1f} ms; target <= {TARGET}); "
        f"{median(rates[1]):.0f} cases/s with 1 worker, {median(rates[2]):.0f} with 2"
    )
    return Figure(
        "flowtests",
        "Flow tests (100 cases of booking-follow-up vs Runtime.run, sandbox in-process)",
        line,
        rows,
        limits=LIMITS,
        ok=ok,
    )
