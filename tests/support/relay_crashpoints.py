"""Crash points for durable-step tests: a component ("crash") whose actions count their calls
and can kill the run at the k-th call, and an in-memory checkpoint sink that can die at the
k-th checkpoint.

A crash is ``Crash``, a ``BaseException`` raised by an action: neither a retry nor the engine's failure handling
takes it for a step's failure, so it unwinds out of ``Runtime.run`` as a dead process would
leave it. Once a run has crashed its sink takes nothing more (a dead process commits nothing),
so what the next claim resumes from is what had been committed before the crash.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from attrs import define, field

from runtime import Action, Component, Context, Input, hookimpl
from runtime.checkpoints import Checkpoint


class Crash(BaseException):
    """The process running the execution died here."""


class SinkGone(Exception):
    """A checkpoint write failed because its process died (the run stops, as for a lost
    lease)."""


@define
class Calls:
    """Every call of the crash component's actions, in order, and when to crash."""

    #: (step path, action, idempotency key) of every call, across claims
    made: list[tuple[str, str, str]] = field(factory=list)
    #: crash at this call (1-based, counted from ``arm``); ``None``: never
    crash_at: int | None = None
    #: crash after the call took effect (its response lost) rather than before it
    after_effect: bool = False
    since_arm: int = 0
    sink: MemorySink | None = None
    #: whether a call lets the event loop run (as a request does): checkpoints written behind
    #: the run commit meanwhile, so a crash finds more of them committed
    yields: bool = True

    def arm(self, crash_at: int | None, after_effect: bool, sink: MemorySink | None) -> None:
        self.crash_at, self.after_effect, self.since_arm, self.sink = (
            crash_at,
            after_effect,
            0,
            sink,
        )

    async def call(self, ctx: Context, action: str) -> None:
        """Count a call; crash before or after its effect when told to."""
        if self.yields:
            await asyncio.sleep(0)
        self.since_arm += 1
        if self.since_arm == self.crash_at and not self.after_effect:
            self._crash()
        self.made.append((ctx.step, action, str(ctx.idempotency_key)))
        if self.since_arm == self.crash_at:
            self._crash()

    def _crash(self) -> None:
        if self.sink is not None:
            self.sink.dead = True
        raise Crash(f"crashed at call {self.since_arm}")

    def writes(self) -> list[str]:
        return [path for path, action, _ in self.made if action == "write"]

    def component(self) -> Component:
        async def write(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
            await self.call(ctx, "write")
            return {"data": {"step": ctx.step, "value": params.get("value")}}

        async def read(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
            await self.call(ctx, "read")
            return {"data": params.get("value")}

        async def fail(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
            await self.call(ctx, "fail")
            raise ValueError(f"{ctx.step} always fails")

        value = Input(
            key="value",
            label="Value",
            type="string",
            schema={"type": ["string", "number", "boolean", "object", "array", "null"]},
        )

        def action(key: str, perform: Any, read_only: bool) -> Action:
            return Action(
                key=key,
                label=key.title(),
                description=f"A {key} that counts its calls.",
                inputs=(value,),
                perform=perform,
                read_only=read_only,
            )

        return Component(
            key="crash",
            label="Crash",
            description="Counts its calls and crashes where told (tests of durable steps).",
            actions=(
                action("write", write, False),
                action("read", read, True),
                action("fail", fail, True),
            ),
        )


class CrashPlugin:
    """The crash component as a plugin for ``Runtime(plugins=[...])``."""

    def __init__(self, calls: Calls) -> None:
        self.calls = calls

    @hookimpl
    def register_components(self, register: Any) -> None:
        register(self.calls.component())


@define
class MemorySink:
    """Checkpoints kept in memory, committed a batch at a time; it can die at its k-th
    checkpoint (that checkpoint's batch is not committed, nor anything after it)."""

    saved: list[Checkpoint] = field(factory=list)
    die_at: int | None = None
    dead: bool = False
    offered: int = 0

    async def save(self, checkpoints: Sequence[Checkpoint]) -> bool:
        if self.dead:
            raise SinkGone("the process is gone")
        self.offered += len(checkpoints)
        if self.die_at is not None and self.offered >= self.die_at:
            self.dead = True
            raise SinkGone(f"died at checkpoint {self.die_at}")
        self.saved.extend(checkpoints)
        return False

    def resumed(self) -> dict[str, Checkpoint]:
        """What a new claim resumes from: the latest committed checkpoint of each path (the
        store upserts by path)."""
        return {c.path: c for c in sorted(self.saved, key=lambda c: c.seq)}
