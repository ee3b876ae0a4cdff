"""Running executions: claim one, run its flow against its instance's state and config, and
record the outcome under the claim (a claim whose lease was taken over writes nothing).

Each run checkpoints its steps in the store under its claim (``runtime.checkpoints``): a claim
that takes over an interrupted execution goes on from the step in flight. A run that suspends
(a long wait) is put aside as ``waiting``; a cancel asked for is honoured at the next
checkpoint, or at once for an execution that is not running."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

import structlog
from attrs import define, evolve

from runtime.checkpoints import DEFAULT_SUSPEND_AFTER, Checkpoint, Checkpointer
from runtime.context import State
from runtime.envsettings import POSITIVE, env_value
from runtime.errors import ConfigurationError, NotFound, RelayError
from runtime.instance_config import resolve_instance_config
from runtime.redaction import Redactor
from runtime.results import StepRecord
from runtime.store.records import ExecutionRow, Holder, LeaseLost

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from runtime.api import Runtime
    from runtime.flows import Flow
    from runtime.instance_cache import InstanceCache
    from runtime.store import Store

log = structlog.get_logger("relay.service")


class Runner:
    """Runs the executions of one store; safe to share across tasks in one event loop."""

    def __init__(self, runtime: Runtime, store: Store, instances: InstanceCache) -> None:
        self._runtime = runtime
        self._store = store
        self._instances = instances
        #: seconds of waiting above which a run is suspended (``RELAY_SUSPEND_AFTER``)
        self.suspend_after = suspend_after_from_env()

    async def execute(
        self,
        execution_id: str,
        worker: str,
        lease: float = 300.0,
        instance: str | None = None,
        *,
        on_claim: Callable[[ExecutionRow], object] | None = None,
    ) -> str | None:
        """Claim and run one execution; returns its final status, or None if not claimed (or
        its lease was lost before it could record the outcome: then another claim owns it).

        ``instance`` (the execution's instance, when the caller knows it) lets the claim load
        the persistent state in the same transaction. ``on_claim`` is told the claimed row
        (its ``holder`` is the claim executors renew the lease under). Every outcome is written
        under that claim: a holder whose lease lapsed and was taken over writes nothing."""
        hint = None
        if instance is not None:
            cached = self._instances.peek(instance)
            if cached is not None:
                hint = self._instances.flow_of(cached).name
        claimed = await self._store.claim_with_state(execution_id, worker, lease, hint)
        if claimed is None:
            return None
        row, stored, state_flow = claimed
        if on_claim is not None:
            on_claim(row)
        try:
            return await self._run_claimed(row, stored, state_flow)
        except LeaseLost:
            log.warning(
                "execution not recorded: its lease was taken over by another claim",
                execution_id=execution_id,
                instance=row.instance,
                attempt=row.attempts,
            )
            return None

    async def _run_claimed(
        self, row: ExecutionRow, stored: dict[str, dict[str, Any]], state_flow: str
    ) -> str:
        """Run the claimed execution ``row`` and record its outcome under the claim
        (``LeaseLost`` when the claim was taken over)."""
        execution_id, holder = row.id, row.holder
        if row.cancel_requested:
            await self._store.finish_execution(
                execution_id, "canceled", _canceled(row, []), {}, holder=holder
            )
            return "canceled"
        found = await self._instances.named(row.instance) if row.instance else None
        if found is None:
            await self._store.finish_execution(
                execution_id,
                "failed",
                {"error": {"type": "ConfigurationError", "message": "the instance is gone"}},
                {},
                holder=holder,
            )
            return "failed"
        self._instances.flow_of(found)  # learns the instance's secrets, caches its flow
        flow = self._instances.flow(found, row.flow_text, row.flow_version)
        if row.flow_version != found.flow_version:
            # recorded before (or after) a redeploy this process has not seen: the version's
            # own config goes with its flow text
            version = await self._store.get_flow_version(found.name, row.flow_version)
            if version is not None:
                found = evolve(found, config=version.config)
        if flow.name != state_flow:  # the claim guessed another flow's state: read it
            stored = await self._store.load_state(found.name, flow.name)
        state = State(
            flow=stored.get("flow", {}),
            cross_flow=stored.get("cross_flow", {}),
            integration=stored.get("integration", {}),
        )
        try:
            scope, handles = await resolve_instance_config(self._runtime, found, flow)
        except RelayError as exc:
            error = {
                "type": type(exc).__name__,
                "message": self._runtime.redactor.text(str(exc)),
            }
            await self._store.finish_execution(
                execution_id, "failed", {"error": error}, {}, holder=holder
            )
            log.warning(
                "execution failed before its first step",
                execution_id=execution_id,
                instance=row.instance,
                error=error["message"],
            )
            return "failed"
        reused = row.reused_outputs
        checkpoints = await self._checkpointer(row, holder)
        result = await self._runtime.run(
            flow,
            config=scope,
            connections=handles,
            payload=row.payload,
            state=state,
            execution_id=execution_id,
            instance=found.name,
            reused_outputs=reused,
            checkpoints=checkpoints,
        )
        if result.status == "waiting" and holder is not None:
            await self._store.suspend_execution(
                execution_id, holder, result.wake_at or self._runtime.clock.time()
            )
            log.info(
                "execution waiting",
                execution_id=execution_id,
                instance=row.instance,
                wake_at=result.wake_at,
            )
            return "waiting"
        # the outcome and the persistent state scopes, in one transaction; a scope that
        # was empty and still is needs no write (reading it gives the same empty document)
        scopes = state.as_dict()
        for name in ("flow", "cross_flow", "integration"):
            if not scopes[name] and not stored.get(name):
                del scopes[name]
        await self._store.finish_execution(
            execution_id,
            result.status,
            result.as_dict(),
            scopes,
            flow_name=flow.name,
            holder=holder,
        )
        if result.status == "failed":  # the default level (warning) must show a failure
            recorded = result.as_dict()["error"] or {}
            log.warning(
                "execution failed",
                execution_id=execution_id,
                instance=row.instance,
                step=recorded.get("step"),
                error=self._runtime.redactor.text(str(recorded.get("message", ""))),
            )
        else:
            log.info(
                "execution finished",
                execution_id=execution_id,
                instance=row.instance,
                status=result.status,
            )
        return result.status

    async def _checkpointer(self, row: ExecutionRow, holder: Holder | None) -> Checkpointer | None:
        """The run's checkpoints: with those of earlier claims when this one takes over."""
        if holder is None:
            return None
        resumed = {}
        if row.attempts > 1:
            resumed = {c.path: c for c in await self._store.load_checkpoints(row.id)}
        return Checkpointer(
            sink=_StoreSink(self._store, row.id, holder),
            claim=row.attempts,
            resumed=resumed,
            suspend_after=self.suspend_after,
        )

    async def cancel(self, execution_id: str) -> str:
        """Cancel an execution (see ``Store.cancel_execution``): ``"canceled"`` when it was
        pending or waiting (its checkpointed steps are its record), ``"requested"`` when it
        runs (it stops at its next checkpoint), ``"finished"`` when it had already finished."""
        checkpoints = await self._store.load_checkpoints(execution_id)
        return await self._store.cancel_execution(
            execution_id, lambda row: _canceled(row, checkpoints)
        )

    async def replay(
        self, execution_id: str, *, from_step: str | None = None, flow_version: str = "original"
    ) -> str:
        """A new execution with the same trigger payload; with ``from_step``, the outputs of
        the top-level steps before it are reused instead of run again."""
        row = await self._store.get_execution(execution_id)
        if row is None:
            raise ConfigurationError(f"no execution {execution_id!r}")
        instance = None
        if row.instance:
            instance = await self._store.get_instance(row.instance)
            if instance is None:
                raise NotFound("instance", row.instance)
        if flow_version == "current":
            if instance is None:
                raise ConfigurationError("the execution's instance is gone")
            flow_text, version = instance.flow_text, instance.flow_version
        else:
            flow_text, version = row.flow_text, row.flow_version
        reused: dict[str, Any] | None = None
        if from_step is not None:
            flow = self._runtime.load_flow_text(flow_text, instance.flow_path if instance else "")
            reused = _outputs_before(flow, from_step, row.result or {})
        return await self._store.create_execution(
            row.instance,
            flow_text,
            version,
            row.payload,
            replay_of=execution_id,
            reused_outputs=reused,
        )


@define
class _StoreSink:
    """Checkpoints into the store, under the run's claim."""

    store: Store
    execution_id: str
    holder: Holder

    async def save(self, checkpoints: Sequence[Checkpoint]) -> bool:
        return await self.store.save_checkpoints(self.execution_id, self.holder, checkpoints)


def progress(
    checkpoints: Sequence[Checkpoint], *, finished_only: bool = False
) -> list[dict[str, Any]]:
    """The step records an unfinished execution has checkpointed so far, as a result lists
    them (secret-named keys redacted), in the order they were reached; with
    ``finished_only``, without the loops still going and the steps waiting or in flight."""
    scrub = Redactor().value
    steps = []
    for checkpoint in checkpoints:
        if finished_only and checkpoint.status in ("running", "waiting"):
            continue
        fields = dict(checkpoint.record)
        if fields.get("kind") == "action":
            fields["output"] = checkpoint.value
        record = StepRecord(**fields).as_dict(scrub)
        if checkpoint.status in ("running", "waiting"):
            record["status"] = checkpoint.status
        if checkpoint.wake_at is not None:
            record["wake_at"] = checkpoint.wake_at
        steps.append(record)
    return steps


def _canceled(row: ExecutionRow, checkpoints: Sequence[Checkpoint]) -> dict[str, Any]:
    """The result of an execution canceled before it finished: the steps it had finished
    (as checkpointed; secret-named keys redacted)."""
    steps = progress(checkpoints, finished_only=True)
    return {
        "id": row.id,
        "status": "canceled",
        "started_at": row.started_at or row.created_at,
        "duration_ms": 0.0,
        "error": {"type": "Canceled", "message": "the execution was canceled on request"},
        "steps": steps,
        "outputs": {},
        "connections": {},
    }


def _outputs_before(flow: Flow, step: str, result: Mapping[str, Any]) -> dict[str, Any]:
    ids = [s.id for s in flow.steps]
    if step not in ids:
        raise ConfigurationError(f"no top-level step {step!r} (steps: {', '.join(ids)})")
    outputs = result.get("outputs") or {}
    reused = {}
    for earlier in ids[: ids.index(step)]:
        if earlier not in outputs:
            raise ConfigurationError(f"step {earlier!r} has no recorded output to reuse")
        reused[earlier] = outputs[earlier]
    return reused


def suspend_after_from_env() -> float:
    """``RELAY_SUSPEND_AFTER``: seconds of waiting above which an execution is suspended
    rather than held (above zero; 60 when unset)."""
    raw = os.environ.get("RELAY_SUSPEND_AFTER")
    if not raw:
        return DEFAULT_SUSPEND_AFTER
    return float(env_value("RELAY_SUSPEND_AFTER", raw, POSITIVE))
