"""Figure 4, cold start: wall time of ``relay --help`` and ``relay validate`` of a generated
50-step flow, each as a fresh process, vs ``python -c "import httpx"`` (the floor: an
interpreter that imports relay's HTTP library). Runs alternate; medians of N runs."""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path

from bench.common import PYTHON, ROOT, Figure, median, spread
from bench.flows import many_steps

RELAY = str(Path(PYTHON).parent / "relay")


#: What limits this figure, as last profiled (recorded with each run).
LIMITS = (
    "relay --help imports click, pluggy and the plugins' hook modules only; relay validate"
    " imports the flow loader (libyaml), jsonschema with its format checkers (their regexes"
    " compile at import; rfc3986-validator's ~13 ms) and referencing, and the plugins'"
    " declarations with their compiled input schemas; no HTTP client, event loop or logging."
)


def _wall(args: list[str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} exited {done.returncode}: {done.stderr.decode()[-500:]}"
        )
    return elapsed


def run(quick: bool) -> Figure:
    runs = 5 if quick else 15
    with tempfile.TemporaryDirectory() as tmp:
        flow = Path(tmp) / "fifty.yaml"
        flow.write_text(many_steps(50))
        commands = {
            "import httpx": [PYTHON, "-c", "import httpx"],
            "relay --help": [RELAY, "--help"],
            "relay validate (50 steps)": [RELAY, "validate", str(flow)],
        }
        for args in commands.values():  # warm the page cache and .pyc files
            _wall(args)
        times: dict[str, list[float]] = {k: [] for k in commands}
        for i in range(runs):
            order = list(commands.items())
            if i % 2:
                order.reverse()
            for name, args in order:
                times[name].append(_wall(args))
    base = median(times["import httpx"])
    help_ratio = median(times["relay --help"]) / base
    validate_ratio = median(times["relay validate (50 steps)"]) / base
    rows = [
        (f"{name}, ms", spread([x * 1000 for x in values], 0)) for name, values in times.items()
    ]
    rows += [
        ("relay --help / import httpx", f"{help_ratio:.2f}"),
        ("relay validate / import httpx", f"{validate_ratio:.2f}"),
        ("runs", f"{runs} of each, order alternating"),
    ]
    line = (
        f"4 cold start: relay --help = {help_ratio:.2f}x, relay validate 50 steps = {validate_ratio:.2f}x "  # noqa: E501
        f"python -c 'import httpx' ({median(times['relay --help']) * 1000:.0f} / "
        f"{median(times['relay validate (50 steps)']) * 1000:.0f} / {base * 1000:.0f} ms)"
    )
    return Figure(
        "coldstart",
        "Cold start (fresh processes)",
        line,
        rows,
        limits=LIMITS,
    )
