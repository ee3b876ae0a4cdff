"""A small in-test component ("ledger") whose actions count their calls, for durable steps.

``ledger.write`` changes something (each call is entered in the ledger under the step's
idempotency key), ``ledger.read`` only reads, ``ledger.hang`` changes something and, while
``Ledger.hanging`` is set, does not return until ``Ledger.release`` is set: the point where a test "crashes" a server (it runs
out the lease in the store and lets another server take over). ``ledger.flaky`` fails its
first ``failures`` calls of a step with a retriable error.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

from attrs import define, field

from runtime import Action, Component, Context, Input, RetriableApiError, hookimpl


@define
class Ledger:
    """What the ledger's actions did, by idempotency key."""

    writes: Counter[str] = field(factory=Counter)
    reads: Counter[str] = field(factory=Counter)
    calls: list[tuple[str, str]] = field(factory=list)
    hanging: bool = False
    #: set when a ``hang`` step is reached; a hanging step returns once ``release`` is set
    reached: asyncio.Event = field(factory=asyncio.Event)
    release: asyncio.Event = field(factory=asyncio.Event)
    failures: int = 0
    tried: Counter[str] = field(factory=Counter)

    def component(self) -> Component:
        async def write(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
            key = str(ctx.idempotency_key)
            self.writes[key] += 1
            self.calls.append((ctx.step, "write"))
            return {"data": {"step": ctx.step, "value": params.get("value")}}

        async def read(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
            self.reads[str(ctx.idempotency_key)] += 1
            self.calls.append((ctx.step, "read"))
            return {"data": params.get("value")}

        async def hang(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
            self.writes[str(ctx.idempotency_key)] += 1
            self.calls.append((ctx.step, "hang"))
            if self.hanging:
                self.reached.set()
                await self.release.wait()
            return {"data": "went on"}

        async def flaky(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
            key = str(ctx.idempotency_key)
            self.tried[key] += 1
            if self.tried[key] <= self.failures:
                raise RetriableApiError(503, "unavailable", "try again later")
            return {"data": self.tried[key]}

        value = Input(key="value", label="Value", type="string", schema={})
        return Component(
            key="ledger",
            label="Ledger",
            description="Counts its calls (tests of durable steps).",
            actions=(
                Action(
                    key="write",
                    label="Write",
                    description="A write.",
                    inputs=(value,),
                    perform=write,
                ),
                Action(
                    key="read",
                    label="Read",
                    description="A read.",
                    inputs=(value,),
                    perform=read,
                    read_only=True,
                ),
                Action(
                    key="hang",
                    label="Hang",
                    description="Hangs while told to.",
                    inputs=(),
                    perform=hang,
                ),
                Action(
                    key="flaky",
                    label="Flaky",
                    description="Fails, then works.",
                    inputs=(),
                    perform=flaky,
                ),
            ),
        )


class LedgerPlugin:
    """The ledger as a plugin for ``Runtime(plugins=[...])``."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    @hookimpl
    def register_components(self, register: Any) -> None:
        register(self.ledger.component())
