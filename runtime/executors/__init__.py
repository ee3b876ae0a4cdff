"""Executors run recorded executions: in-process (one machine) or on Dramatiq workers."""

from __future__ import annotations

from typing import Protocol


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
