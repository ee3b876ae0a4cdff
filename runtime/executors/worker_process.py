"""A ``relay worker`` process: Dramatiq's ``Worker`` consuming execution messages from Redis.

Dramatiq supplies the machinery: acknowledgement after processing (a message whose worker
died is requeued once the worker's heartbeat is ``heartbeat_timeout`` old), retries with
exponential backoff (``Retries``), a hard time limit (``TimeLimit``, a backstop behind the
runner's own), and one event loop per process for async code (``AsyncIO``). What an execution
message does is ``runtime.executors.worker.ExecutionRunner``'s.
"""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Any

import dramatiq
import structlog
from dramatiq.asyncio import async_to_sync, get_event_loop_thread
from dramatiq.middleware import (
    AsyncIO,
    CurrentMessage,
    Middleware,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from runtime.executors.dramatiq import ACTOR_NAME, execution_message, make_broker
from runtime.executors.worker import ExecutionRunner, WorkerSettings
from runtime.heap import freeze_startup_heap
from runtime.logs import configure_from_env

if TYPE_CHECKING:
    from types import FrameType

    from dramatiq.brokers.redis import RedisBroker

log = structlog.get_logger("relay.worker")

#: The hard time limit lets the runner's own (which records the failure) act first.
_HARD_LIMIT_MARGIN = 30.0


class _CloseRunner(Middleware):
    """Closes the runner's store and clients on the event loop, before ``AsyncIO`` stops it."""

    def __init__(self, runner: ExecutionRunner) -> None:
        self.runner = runner

    def after_worker_shutdown(self, broker: Any, worker: Any) -> None:
        loop_thread = get_event_loop_thread()
        if loop_thread is not None:
            loop_thread.run_coroutine(self.runner.aclose())


def worker_broker(settings: WorkerSettings, runner: ExecutionRunner) -> RedisBroker:
    """A broker with the worker middleware and the ``run_execution`` actor declared."""
    ms = 1000
    broker = make_broker(
        settings.queue,
        [
            TimeLimit(time_limit=int((settings.time_limit + _HARD_LIMIT_MARGIN) * ms)),
            ShutdownNotifications(),
            Retries(
                max_retries=settings.max_retries,
                min_backoff=int(settings.min_backoff * ms),
                max_backoff=int(settings.max_backoff * ms),
            ),
            CurrentMessage(),
            _CloseRunner(runner),  # before AsyncIO: its shutdown hook needs the running loop
            AsyncIO(),
        ],
    )
    handle = async_to_sync(runner.handle)

    def run_execution(execution_id: str, instance: str | None) -> None:
        message = CurrentMessage.get_current_message()
        retries = int(message.options.get("retries", 0)) if message is not None else 0
        final = retries >= settings.max_retries
        again = handle(execution_id, instance, final_attempt=final)
        if again is not None:
            # a fresh message, not a retry: waiting for a slot or a lease is not a failure
            broker.enqueue(
                execution_message(settings.queue, execution_id, instance), delay=int(again * ms)
            )

    declare = dramatiq.actor(broker=broker, actor_name=ACTOR_NAME, queue_name=settings.queue.queue)
    declare(run_execution)
    return broker


def run_worker_process(settings: WorkerSettings) -> int:
    """Consume until SIGTERM or SIGINT, then let in-flight executions finish (up to the
    grace period) and requeue prefetched messages. Returns the exit status."""
    configure_from_env()  # a spawned worker process starts from a fresh interpreter
    runner = ExecutionRunner(settings)
    broker = worker_broker(settings, runner)
    broker.emit_after("process_boot")
    worker = dramatiq.Worker(broker, queues={settings.queue.queue}, worker_threads=settings.threads)
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    freeze_startup_heap()
    worker.start()
    log.info("worker ready", worker=runner.worker_id, queue=settings.queue.queue)
    stopping.wait()
    log.info("worker stopping", worker=runner.worker_id)
    worker.stop(timeout=int(settings.grace * 1000))
    broker.client.close()
    return 0
