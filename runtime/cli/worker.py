"""``relay worker``: run executions taken from Redis (the scale-out side of ``relay serve
--executor dramatiq``). Configuration is by environment, options override it."""

from __future__ import annotations

import multiprocessing
import signal
import sys
from multiprocessing.connection import wait
from typing import TYPE_CHECKING

import click

from runtime.cli.common import handle_errors, out

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess
    from types import FrameType

    from runtime.executors.worker import WorkerSettings


@click.command("worker")
@click.option("--processes", default=1, show_default=True, type=click.IntRange(1, 256))
@click.option(
    "--threads",
    type=click.IntRange(1, 1024),
    help="Executions each process runs at once [env RELAY_WORKER_THREADS; default 8].",
)
@click.option("--queue", help="Queue to consume [env RELAY_QUEUE; default relay].")
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0.001),
    help="Seconds an execution may run before it fails [env RELAY_TIME_LIMIT; default 600].",
)
@handle_errors
def worker_command(
    processes: int, threads: int | None, queue: str | None, time_limit: float | None
) -> None:
    """Run executions from the queue (store: RELAY_DATABASE_URL, Redis: RELAY_REDIS_URL)."""
    from runtime.executors.worker import WorkerSettings
    from runtime.executors.worker_process import run_worker_process

    settings = WorkerSettings.from_env(threads=threads, queue=queue, time_limit=time_limit)
    out.print(
        f"relay worker: {processes} process(es) x {settings.threads} thread(s) on queue "
        f"{settings.queue.queue!r}",
        markup=False,
    )
    if processes == 1:
        sys.exit(run_worker_process(settings))
    sys.exit(_supervise(settings, processes))


def _supervise(settings: WorkerSettings, processes: int) -> int:
    """Run ``processes`` worker processes; restart any that dies; stop them all on a signal.

    Spawned, not forked: each child builds its own connections and event loop from scratch.
    """
    from runtime.executors.worker_process import run_worker_process

    context = multiprocessing.get_context("spawn")
    stopping = False

    def start() -> BaseProcess:
        child = context.Process(target=run_worker_process, args=(settings,))
        child.start()
        return child

    def on_signal(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.is_alive():
                child.terminate()  # SIGTERM: the child finishes its in-flight work first

    children = [start() for _ in range(processes)]
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    while not stopping:
        wait([child.sentinel for child in children], timeout=1.0)
        for index, child in enumerate(children):
            if not child.is_alive() and not stopping:
                out.print(f"worker process {child.pid} exited ({child.exitcode}); restarting")
                children[index] = start()
    for child in children:
        child.join()
    return 0
