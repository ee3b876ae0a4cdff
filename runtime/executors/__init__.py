"""Executors run recorded executions: in-process (one machine) or on Dramatiq workers."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from runtime.service import Service

#: The executors ``relay serve --executor`` offers.
EXECUTORS = ("inprocess", "dramatiq")


class Executor(Protocol):
    """Takes execution ids that are already recorded in the store and sees them run."""

    async def start(self) -> None:
        """Begin work, and take up every execution left unfinished by a previous run."""

    async def submit(self, execution_id: str, instance: str | None) -> None:
        """Run the (recorded, pending) execution ``execution_id`` eventually, once."""

    async def shutdown(self, grace: float) -> None:
        """Stop taking work; let in-flight executions finish for up to ``grace`` seconds.
        What does not finish stays recorded as unfinished and is resumed on the next start."""

    def in_flight(self) -> int:
        """How many executions are running now."""


def make_executor(kind: str, relay: Service, *, lease: float = 30.0) -> Executor:
    """The executor named ``kind`` (one of ``EXECUTORS``) for ``relay``.

    ``inprocess`` runs executions in this process, claiming each for ``lease`` seconds at a
    time. ``dramatiq`` only enqueues them for ``relay worker`` processes (configured by
    ``RELAY_REDIS_URL``, ``RELAY_QUEUE``, ...; the workers choose their own lease).
    """
    if kind == "inprocess":
        from runtime.executors.inprocess import InProcessExecutor

        return InProcessExecutor(relay, lease=lease)
    if kind == "dramatiq":
        from runtime.executors.dramatiq import DramatiqExecutor

        return DramatiqExecutor(relay)
    raise ValueError(f"unknown executor {kind!r} (choose from {', '.join(EXECUTORS)})")
