"""A separate OS process contending for ``store.tokens.lock(key)`` (run by test_locks.py).

Usage: lock_contender.py URL KEY OUT_FILE ROUNDS READY_DIR PEERS [--no-lock]
(test_locks.py runs it with ``runpy`` in a forkserver child, passing ``ARGS`` instead of argv,
so the children start from an interpreter that has relay imported already.)

Opens the store (possibly migrating it at the same moment as its peer), says it is ready,
waits for its peers, then ROUNDS times: takes the lock, appends ``start <pid>`` to OUT_FILE,
holds it briefly, appends ``end <pid>``. Lines are single ``O_APPEND`` writes, so the file's
order is the order the events happened in.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "support"))  # run as a script
from relay_waiting import until

from runtime.store import Keyring, open_store


def mark(fd: int, what: str) -> None:
    os.write(fd, f"{what} {os.getpid()} {time.time():.6f}\n".encode())


async def main(
    url: str, key: str, out: str, rounds: int, ready: Path, peers: int, lock: bool
) -> None:
    store = await open_store(url, data_dir=ready, keyring=Keyring.generate())
    (ready / f"{os.getpid()}.ready").touch()

    async def all_ready() -> bool:  # a start barrier, not a lock: peers are other processes
        return len(await asyncio.to_thread(lambda: list(ready.glob("*.ready")))) >= peers

    await until(all_ready, "the peers to be ready", timeout=30, pause=0.005)
    fd = os.open(out, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        for _ in range(rounds):
            section = store.tokens.lock(key) if lock else contextlib.nullcontext()
            async with section:
                mark(fd, "start")
                await asyncio.sleep(0.02)  # a section held across processes: real time passes
                mark(fd, "end")
            # leave the lock alone for a moment, as real refreshes do, so the peer gets turns
            await asyncio.sleep(random.uniform(0.005, 0.015))
    finally:
        os.close(fd)
        await store.close()


if __name__ == "__main__":
    argv: list[str] = globals().get("ARGS") or sys.argv[1:]
    url, key, out, rounds, ready, peers = argv[:6]
    try:
        asyncio.run(
            main(url, key, out, int(rounds), Path(ready), int(peers), "--no-lock" not in argv)
        )
    except BaseException:
        Path(f"{out}.{os.getpid()}.err").write_text(traceback.format_exc())
        raise
