"""A run's claim of an execution, kept by the executor running it: the lease renewed while it
runs, handed back when the run stops early, or the execution recorded failed under it.

Both executors (in-process and the Dramatiq worker) hold one ``Claim`` per run. Every write
carries the claim's holder (worker and attempt): a claim whose lease lapsed and was taken over
writes nothing.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import structlog

from runtime.store.records import ExecutionRow, Holder, LeaseLost

if TYPE_CHECKING:
    from runtime.store import Store

log = structlog.get_logger("relay.executor")


class Claim:
    """One run of execution ``execution_id`` by ``worker``, in ``task``.

    Pass ``took`` as ``Service.execute``'s ``on_claim``; call ``end`` when the run is over (a
    renewal after that stops nothing: the task may be running other work by then)."""

    __slots__ = ("_store", "attempt", "ended", "execution_id", "lost", "task", "worker")

    def __init__(
        self, store: Store, execution_id: str, worker: str, task: asyncio.Task[Any] | None
    ) -> None:
        self._store = store
        self.execution_id = execution_id
        self.worker = worker
        self.task = task
        #: the claim's attempt once the store has granted it (``None`` before)
        self.attempt: int | None = None
        #: whether a renewal found the lease taken over by another claim (the run was stopped)
        self.lost = False
        self.ended = False

    def took(self, row: ExecutionRow) -> None:
        """The claimed row, as ``Service.execute`` reports it."""
        self.attempt = row.attempts

    def end(self) -> None:
        """The run is over: renewals stop nothing from now on."""
        self.ended = True

    @property
    def holder(self) -> Holder | None:
        """Who holds the execution under this claim, once claimed."""
        return None if self.attempt is None else Holder(self.worker, self.attempt)

    async def renew(self, lease: float) -> bool:
        """Extend the lease by ``lease`` seconds. ``False`` when another claim has taken the
        execution over: then the run is stopped (its task cancelled), since it could only
        repeat that claim's work and may write nothing. A failed renewal is logged and counts
        as held (it only risks a second claim later)."""
        if self.attempt is None or self.ended:
            return True
        attempt = self.attempt
        try:
            held = await self._store.renew_lease(self.execution_id, self.worker, lease, attempt)
        except Exception as exc:
            log.warning("lease renewal failed", execution_id=self.execution_id, error=str(exc))
            return True
        if held or self.ended or self.attempt != attempt:
            return True
        log.warning(
            "execution stopped: its lease was taken over by another claim",
            execution_id=self.execution_id,
            attempt=attempt,
        )
        self.lost = True
        if self.task is not None:
            self.task.cancel()
        return False

    async def release(self) -> None:
        """Hand the execution back (pending, claimable at once) if this claim still holds it.
        Best effort: an expired lease makes it claimable anyway."""
        try:
            await asyncio.shield(
                self._store.release_execution(self.execution_id, self.worker, self.attempt)
            )
        except Exception:
            log.warning("could not release execution", execution_id=self.execution_id)

    async def fail(self, kind: str, message: str, *, after_cancel: bool = False) -> None:
        """Record the execution failed (keeping the steps recorded so far) under this claim,
        which frees its lease; or, with ``after_cancel``, when this run's cancellation has just
        recorded it canceled. Before the store granted the claim nothing of it ran: it is
        handed back instead. Never raises: a store away leaves the lease to run out."""
        if self.attempt is None:
            await self.release()
            return
        execution_id = self.execution_id
        try:
            row = await self._store.get_execution(execution_id)
            if row is None:
                return
            if row.status == "running":
                holder: Holder | None = self.holder
            elif after_cancel and row.status == "canceled" and row.attempts == self.attempt:
                holder = None  # finished by this run's cancellation: no lease left to check
            else:
                return
            error = {"type": kind, "message": message}
            result = {
                "id": execution_id,
                "steps": [],
                **(row.result or {}),
                "status": "failed",
                "error": error,
            }
            state = {"execution": row.state or {}}
            await asyncio.shield(
                self._store.finish_execution(execution_id, "failed", result, state, holder=holder)
            )
        except LeaseLost:
            log.warning(
                "failure not recorded: another claim has the execution", execution_id=execution_id
            )
            return
        except Exception:
            log.error("could not record the failure", execution_id=execution_id)
            return
        log.warning("execution failed", execution_id=execution_id, error=message)
