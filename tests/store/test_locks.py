"""Lease locks and the token store on both backends, within a process and across processes."""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import runpy
from pathlib import Path

import pytest
from sqlalchemy import select

from runtime.oauth import Token
from runtime.store import LeaseLocks, LockTimeout, Store
from runtime.store.tables import locks

pytestmark = pytest.mark.asyncio

CONTENDER = Path(__file__).with_name("lock_contender.py")


async def test_tokens_round_trip(store: Store) -> None:
    assert await store.tokens.load("calendly:acme") is None
    first = Token("at-1", "rt-1", 1_700_000_000.0, scope="default", extra={"owner": "u1"})
    await store.tokens.save("calendly:acme", first)
    assert await store.tokens.load("calendly:acme") == first
    second = Token("at-2", "rt-2", None)
    await store.tokens.save("calendly:acme", second)
    assert await store.tokens.load("calendly:acme") == second
    assert await store.tokens.load("calendly:other") is None


async def test_lock_excludes_within_a_process_and_frees_on_exit(store: Store) -> None:
    locks_ = LeaseLocks(store.engine)
    async with store.tokens.lock("k"):
        with pytest.raises(LockTimeout):
            async with locks_.hold("token:k", timeout=0.1):
                pass  # pragma: no cover - must not get here
        async with locks_.hold("token:other", timeout=1):
            pass  # other names are independent
    async with locks_.hold("token:k", timeout=1):
        pass
    async with store.engine.connect() as conn:
        assert (await conn.execute(select(locks))).all() == []  # released rows are gone


async def test_waiters_get_the_lock_one_at_a_time(store: Store) -> None:
    inside: list[int] = []
    overlaps = 0

    async def worker(n: int) -> None:
        nonlocal overlaps
        async with store.tokens.lock("shared"):
            inside.append(n)
            overlaps += len(inside) > 1
            await asyncio.sleep(0.01)  # held while the others poll the lock row in the database
            inside.remove(n)

    await asyncio.gather(*(worker(n) for n in range(5)))
    assert overlaps == 0


async def test_an_expired_lease_is_taken_over(store: Store) -> None:
    async with store.engine.begin() as conn:  # a holder that died long ago
        await conn.execute(locks.insert().values(name="token:k", owner="dead", expires_at=0.0))
    async with store.tokens.lock("k"):
        async with store.engine.connect() as conn:
            owner = await conn.scalar(select(locks.c.owner).where(locks.c.name == "token:k"))
        assert owner != "dead"


async def test_release_leaves_a_successors_lock_alone(store: Store) -> None:
    short = LeaseLocks(store.engine, lease=30)
    # our lease is taken over (as if it had run out) while we are still inside
    async with short.hold("x"), store.engine.begin() as conn:
        await conn.execute(locks.update().values(owner="successor"))
    async with store.engine.connect() as conn:
        assert await conn.scalar(select(locks.c.owner)) == "successor"


async def test_a_held_lease_is_renewed(store: Store) -> None:
    brief = LeaseLocks(store.engine, lease=0.3)
    async with brief.hold("slow"):
        async with store.engine.connect() as conn:
            first = await conn.scalar(select(locks.c.expires_at))
        # two leases' worth of time pass while we hold it: the lease is the database row's
        # wall-clock expiry, which LeaseLocks takes from no injectable clock
        await asyncio.sleep(0.65)
        async with store.engine.connect() as conn:
            later = await conn.scalar(select(locks.c.expires_at))
        with pytest.raises(LockTimeout):
            async with LeaseLocks(store.engine).hold("slow", timeout=0.05):
                pass  # pragma: no cover
    assert first is not None and later is not None and later > first


def run_contenders(
    url: str, tmp_path: Path, *, lock: bool, rounds: int = 10
) -> list[tuple[str, str]]:
    """Two OS processes contending for one token lock; the (event, pid) markers in order.

    The processes are forkserver children: the server imports relay once (seconds), and each
    child forks from it already warm, which keeps these tests short."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["runtime.store"])
    out, ready = tmp_path / "markers.log", tmp_path / "ready"
    ready.mkdir()
    args = [url, "calendly:acme", str(out), str(rounds), str(ready), "2"]
    args += [] if lock else ["--no-lock"]
    procs = [
        ctx.Process(
            target=runpy.run_path,
            args=(str(CONTENDER),),
            kwargs={"init_globals": {"ARGS": args}, "run_name": "__main__"},
        )
        for _ in range(2)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(timeout=60)
        errors = "".join(p.read_text() for p in tmp_path.glob("markers.log.*.err"))
        assert proc.exitcode == 0, errors or f"exit code {proc.exitcode}"
    return [(line.split()[0], line.split()[1]) for line in out.read_text().splitlines()]


def overlapping(markers: list[tuple[str, str]]) -> int:
    """How many critical sections began while another was open."""
    holder, count = None, 0
    for event, pid in markers:
        if event == "start":
            count += holder is not None
            holder = pid
        elif holder == pid:
            holder = None
    return count


async def test_two_processes_never_overlap(db_url: str, tmp_path: Path) -> None:
    # both processes open (and migrate) the fresh database at the same time
    markers = run_contenders(db_url, tmp_path, lock=True)
    pids = {pid for _, pid in markers}
    assert len(pids) == 2 and len(markers) == 2 * 2 * 10
    assert overlapping(markers) == 0
    assert all(
        (a, b) == ("start", "end") and pa == pb
        for (a, pa), (b, pb) in zip(markers[::2], markers[1::2], strict=True)
    )
    owners = [pid for event, pid in markers if event == "start"]
    switches = sum(a != b for a, b in itertools.pairwise(owners))
    assert switches >= 1, "the processes never contended: the test proved nothing"


async def test_without_the_lock_the_check_sees_overlaps(tmp_path: Path) -> None:
    """The control for the test above: the same processes, unlocked, do overlap."""
    markers = run_contenders(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}", tmp_path, lock=False)
    assert overlapping(markers) > 0
