"""Webhook ingest by connection count: ``python -m bench.sweep_ingest [CONNECTIONS ...]``.

Relay's accepted rate and the bare endpoint's at each connection count (5,000 deliveries per
point, bare first, relay after; executions drained between points). Shows where relay is bound
by commit latency (few connections: only what is in flight shares a commit) and where by CPU.
Printed only; figure 2 keeps its 64 connections."""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

from bench import fig_ingest as ingest
from bench.common import PYTHON, child_server, free_port


def main(counts: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="relay-sweep-") as tmp:
        home = Path(tmp)
        path = asyncio.run(ingest.deploy(home))
        relay_port, bare_port = free_port(), free_port()
        with (
            child_server(
                [ingest.RELAY, "serve", "--port", str(relay_port)],
                relay_port,
                env={"RELAY_HOME": str(home)},
                cwd=home,
            ),
            child_server(
                [PYTHON, "-m", "bench.servers", "bare", str(bare_port), ingest.SECRET], bare_port
            ),
        ):
            for port in (relay_port, bare_port):
                asyncio.run(ingest.generate(port, ingest.deliveries(path, -1, 300), 8, 30, False))
            ingest.wait_finished(home, set(), 120)
            for point, connections in enumerate(counts, start=1):
                reqs = ingest.deliveries(path, point, 5000)
                bare = asyncio.run(ingest.generate(bare_port, reqs, connections, 10, False))
                relay = asyncio.run(ingest.generate(relay_port, reqs, connections, 10, False))
                ingest.wait_finished(home, set(), 300)
                accepted = relay.count(202) / relay.elapsed
                print(
                    f"{connections:4d} connections: relay {accepted:6.0f}/s, "
                    f"bare {bare.rate:6.0f}/s, relay/bare {accepted / bare.rate:.3f}"
                )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [16, 64, 128, 256])
