"""A separate OS process that runs N executions sharing one stored, expired connection.

Usage: python refresh_worker.py HOME FLOW N BARRIER_DIR
Each execution resolves its own connection handle (as the service does), so every one of them
needs a refresh; only the store's cross-process lock keeps it to one.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from relay_waiting import until

from runtime import Runtime, open_store


async def main(home: Path, flow_path: Path, count: int, barrier: Path) -> None:
    store = await open_store(os.environ.get("RELAY_DATABASE_URL"), data_dir=home)
    # `{use: NAME}` resolves through the store, its tokens under the store's cross-process lock
    runtime = Runtime(token_store=store.tokens, connection_source=store)
    flow = runtime.load_flow(flow_path)
    (barrier / f"ready-{os.getpid()}").touch()

    async def both_ready() -> bool:  # a cross-process start line, so the two really contend
        return await asyncio.to_thread(lambda: len(list(barrier.iterdir())) >= 2)

    await until(both_ready, "the other worker process to be ready")

    async def one() -> str:
        scope, handles = await runtime.resolve_config(flow, {"calendly": {"use": "shared"}})
        result = await runtime.run(flow, config=scope, connections=handles)
        return result.status if result.ok else json.dumps(result.error)

    statuses = await asyncio.gather(*(one() for _ in range(count)))
    await runtime.aclose()
    await store.close()
    print(json.dumps(statuses))


if __name__ == "__main__":
    home, flow, count, barrier = sys.argv[1:5]
    asyncio.run(main(Path(home), Path(flow), int(count), Path(barrier)))
