"""cProfile of relay's side of a figure: ``python -m bench.profile engine|pagination|validation``.

Prints the top functions by cumulative and by own time (the sandbox runs in a child process, so
only relay's and httpx's client-side work is in the profile).
"""

from __future__ import annotations

import asyncio
import cProfile
import io
import pstats
import sys


def _report(profiler: cProfile.Profile, top: int) -> None:
    for key in ("cumulative", "tottime"):
        out = io.StringIO()
        pstats.Stats(profiler, stream=out).sort_stats(key).print_stats(top)
        print(out.getvalue())


def engine(top: int) -> None:
    from bench.fig_engine import Harness, sandbox_server

    server, _ = sandbox_server(200)
    with server as info:

        async def main() -> None:
            h = Harness(info)
            for _ in range(10):
                await h.relay_once()
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(100):
                await h.relay_once()
            profiler.disable()
            await h.close()
            _report(profiler, top)

        asyncio.run(main())


def pagination(top: int) -> None:
    from bench.fig_pagination import Harness, sandbox_server

    server = sandbox_server()
    with server as info:

        async def main() -> None:
            h = Harness(info)
            await h.relay_once()
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(3):
                await h.relay_once()
            profiler.disable()
            await h.close()
            _report(profiler, top)

        asyncio.run(main())


def validation(top: int) -> None:
    from bench.fig_validation import Harness

    h = Harness(200)
    h.relay_once()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(10):
        h.relay_once()
    profiler.disable()
    _report(profiler, top)


if __name__ == "__main__":
    name = sys.argv[1] if len(sys.argv) > 1 else "engine"
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    {"engine": engine, "pagination": pagination, "validation": validation}[name](top)
