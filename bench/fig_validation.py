"""Figure 5, validation: a generated 200-step flow loaded and statically checked by
``Runtime.load_flow_text``, in flows per second; the baseline is parsing the same text with
ruamel.yaml (round-trip loader, the parser relay uses), so the ratio is what relay's checks cost
on top of reading the YAML at all."""

from __future__ import annotations

import io
import time
from typing import Any

from bench.common import Figure, median, spread
from bench.flows import many_steps

STEPS = 200


class Harness:
    def __init__(self, steps: int = STEPS) -> None:
        from ruamel.yaml import YAML

        from runtime import Runtime

        self.runtime = Runtime()
        self.text = many_steps(steps)
        self.yaml = YAML(typ="rt")
        flow = self.runtime.load_flow_text(self.text, "generated.yaml")
        if len(flow.steps) != steps:
            raise RuntimeError("the generated flow lost steps")

    def relay_once(self) -> Any:
        return self.runtime.load_flow_text(self.text, "generated.yaml")

    def baseline_once(self) -> Any:
        return self.yaml.load(io.StringIO(self.text))


#: What limits this figure, as last profiled (recorded with each run).
LIMITS = "ruamel.yaml's round-trip composer (~77% of the time); relay's own checks add ~0.23x."


def _per_call(fn: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def run(quick: bool) -> Figure:
    rounds, n = (3, 3) if quick else (7, 8)
    h = Harness()
    relay: list[float] = []
    base: list[float] = []
    for r in range(rounds):
        pair = [("relay", h.relay_once), ("base", h.baseline_once)]
        if r % 2:
            pair.reverse()
        for name, fn in pair:
            (relay if name == "relay" else base).append(_per_call(fn, n))
    ratio = [a / b for a, b in zip(relay, base, strict=True)]
    rate = [1 / x for x in relay]
    rows = [
        ("relay load_flow_text, flows/s (200 steps)", spread(rate, 2)),
        ("relay, ms per flow", spread([x * 1000 for x in relay], 1)),
        ("ruamel.yaml parse only, ms per flow", spread([x * 1000 for x in base], 1)),
        ("ratio relay/parse per round", spread(ratio, 2)),
        ("rounds x flows", f"{rounds} x {n} each side, alternated"),
    ]
    line = (
        f"5 validation: {median(rate):.2f} flows/s for a {STEPS}-step flow "
        f"({median(relay) * 1000:.1f} ms each); relay/ruamel-parse = {median(ratio):.2f}"
    )
    return Figure(
        "validation",
        f"Validation ({STEPS}-step flow, Runtime.load_flow_text)",
        line,
        rows,
        limits=LIMITS,
    )
