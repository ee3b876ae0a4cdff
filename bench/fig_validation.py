"""Figure 5, validation: a generated 200-step flow loaded and statically checked by
``Runtime.load_flow_text``, in flows per second. The baseline is loading the same text with
PyYAML's libyaml loader (``yaml.CSafeLoader``, the parser relay uses), so the ratio is what
relay's checks and positions cost on top of reading the YAML at all; ruamel.yaml's round-trip
loader (the parser relay used before) is timed alongside for comparison."""

from __future__ import annotations

import functools
import io
import time
from typing import Any

from bench.common import Figure, median, spread
from bench.flows import many_steps

STEPS = 200


class Harness:
    def __init__(self, steps: int = STEPS) -> None:
        import yaml
        from ruamel.yaml import YAML

        from runtime import Runtime

        self.runtime = Runtime()
        self.text = many_steps(steps)
        self.libyaml_load = functools.partial(yaml.load, self.text, Loader=yaml.CSafeLoader)
        self.ruamel = YAML(typ="rt")
        flow = self.runtime.load_flow_text(self.text, "generated.yaml")
        if len(flow.steps) != steps:
            raise RuntimeError("the generated flow lost steps")

    def relay_once(self) -> Any:
        return self.runtime.load_flow_text(self.text, "generated.yaml")

    def baseline_once(self) -> Any:
        return self.libyaml_load()  # CSafeLoader: a safe loader

    def ruamel_once(self) -> Any:
        return self.ruamel.load(io.StringIO(self.text))


#: What limits this figure, as last profiled (recorded with each run).
LIMITS = (
    "the check of the document against the flow schema (jsonschema, ~45% under cProfile), "
    "compiling the steps (~30%, mostly their templates) and reading the YAML (~25%: libyaml's "
    "events, composed and built into values with their positions by relay)."
)


def _per_call(fn: Any, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def run(quick: bool) -> Figure:
    rounds, n = (3, 3) if quick else (7, 8)
    h = Harness()
    times: dict[str, list[float]] = {"relay": [], "base": [], "ruamel": []}
    for r in range(rounds):
        order = [("relay", h.relay_once), ("base", h.baseline_once), ("ruamel", h.ruamel_once)]
        for name, fn in order[r % 3 :] + order[: r % 3]:
            times[name].append(_per_call(fn, n))
    relay, base, old = times["relay"], times["base"], times["ruamel"]
    ratio = [a / b for a, b in zip(relay, base, strict=True)]
    rate = [1 / x for x in relay]
    rows = [
        ("relay load_flow_text, flows/s (200 steps)", spread(rate, 2)),
        ("relay, ms per flow", spread([x * 1000 for x in relay], 1)),
        ("PyYAML libyaml safe load only, ms per flow", spread([x * 1000 for x in base], 1)),
        ("ratio relay/libyaml load per round", spread(ratio, 2)),
        (
            "ruamel.yaml round-trip load only (the parser before), ms",
            spread([x * 1000 for x in old], 1),
        ),
        ("rounds x flows", f"{rounds} x {n} each, order rotating"),
    ]
    line = (
        f"5 validation: {median(rate):.2f} flows/s for a {STEPS}-step flow "
        f"({median(relay) * 1000:.1f} ms each); relay/libyaml-load = {median(ratio):.2f} "
        f"(a ruamel.yaml load alone: {median(old) * 1000:.0f} ms)"
    )
    return Figure(
        "validation",
        f"Validation ({STEPS}-step flow, Runtime.load_flow_text)",
        line,
        rows,
        limits=LIMITS,
    )
