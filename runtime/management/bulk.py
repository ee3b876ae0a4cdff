"""Bulk replay: the executions of an instance matching a filter, each replayed once
(``POST /executions/replay``, operate scope, and ``relay replay --failed --instance X``).

A dry run selects exactly what a real run would and replays nothing, so its count is the one a
real run made with the same filter at the same moment would act on. At most ``limit``
executions are chosen, the most recent first (``more`` says others match: narrow ``until``
to the oldest chosen and repeat); they are replayed oldest first. A replay that cannot be
made (its instance gone, ``from_step`` not a step of its flow) is listed with the reason and
the others go on.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from attrs import frozen
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from runtime.errors import RelayError
from runtime.management.problems import Problem, ProblemRoute
from runtime.store.execution_pages import ExecutionFilter

if TYPE_CHECKING:
    from runtime.executors import Executor
    from runtime.management.auth import Authenticator
    from runtime.service import Service

#: The most executions one bulk replay acts on.
BULK_MAX = 1000

FinalStatus = Literal["completed", "failed", "canceled"]


@frozen
class BulkFilter:
    """Which executions to replay (see ``BulkReplayRequest``); times are UNIX seconds."""

    instance: str
    status: str = "failed"
    since: float | None = None
    until: float | None = None
    error: str | None = None
    limit: int = 100


@frozen
class BulkOutcome:
    """What a bulk replay chose and did."""

    chosen: list[str]
    more: bool
    replays: list[tuple[str, str]]
    refused: list[tuple[str, str]]


async def choose(relay: Service, where: BulkFilter) -> tuple[list[str], bool]:
    """The ids of the executions ``where`` selects (up to its limit, the most recent first),
    and whether more match."""
    rows = await relay.store.page_executions(
        ExecutionFilter(
            instance=where.instance,
            status=where.status,
            created_after=where.since,
            created_before=where.until,
            error=where.error,
        ),
        where.limit + 1,
    )
    return [r.id for r in rows[: where.limit]], len(rows) > where.limit


async def bulk_replay(
    relay: Service,
    where: BulkFilter,
    *,
    from_step: str | None = None,
    flow_version: str = "original",
    dry_run: bool = False,
) -> BulkOutcome:
    """Choose the executions ``where`` selects and, unless ``dry_run``, record a replay of
    each (oldest first). The replays are recorded, not run: the caller hands them on."""
    chosen, more = await choose(relay, where)
    replays: list[tuple[str, str]] = []
    refused: list[tuple[str, str]] = []
    if not dry_run:
        for original in reversed(chosen):
            try:
                new_id = await relay.replay(
                    original, from_step=from_step, flow_version=flow_version
                )
            except RelayError as exc:
                refused.append((original, relay.runtime.redactor.text(str(exc))))
                continue
            replays.append((new_id, original))
    return BulkOutcome(chosen, more, replays, refused)


class BulkReplayRequest(BaseModel):
    """Which executions to replay, and how."""

    model_config = ConfigDict(extra="forbid")

    instance: str = Field(min_length=1, max_length=200)
    status: FinalStatus = "failed"
    since: datetime | None = Field(
        default=None, description="Recorded after: ISO 8601 (UTC when no offset) or UNIX seconds."
    )
    until: datetime | None = Field(default=None, description="Recorded before.")
    error: str | None = Field(
        default=None, min_length=1, max_length=200, description="In the error message."
    )
    from_step: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Reuse the recorded outputs of the top-level steps before this one.",
    )
    flow_version: Literal["original", "current"] = "original"
    dry_run: bool = Field(default=False, description="Count and list; replay nothing.")
    limit: int = Field(default=100, ge=1, le=BULK_MAX)


class Replayed(BaseModel):
    """One replay recorded."""

    id: str = Field(description="The new execution's id.")
    replay_of: str


class Refused(BaseModel):
    """An execution that could not be replayed."""

    id: str
    reason: str


class BulkReplayOutcome(BaseModel):
    """What the bulk replay chose and, unless a dry run, recorded."""

    dry_run: bool
    count: int = Field(description="How many executions were chosen.")
    ids: list[str] = Field(description="The chosen executions, the most recent first.")
    more: bool = Field(description="Whether more executions match than `limit`.")
    replays: list[Replayed] = Field(description="The replays recorded (none on a dry run).")
    refused: list[Refused]


def _seconds(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def bulk_router(relay: Service, executor: Executor, auth: Authenticator) -> APIRouter:
    """``POST /executions/replay``: operate scope."""
    router = APIRouter(prefix="/executions", tags=["executions"], route_class=ProblemRoute)

    @router.post(
        "/replay",
        response_model=BulkReplayOutcome,
        dependencies=[Depends(auth.require("operate"))],
        responses={
            403: {
                "model": Problem,
                "description": "The token's scope is too small",
                "content": {"application/problem+json": {}},
            }
        },
    )
    async def bulk_replay_executions(
        request: BulkReplayRequest,
    ) -> dict[str, Any]:
        """Replay every execution of an instance matching a filter (by default its failed
        ones), each once; with `dry_run`, count and list them only. Replays are handed to the
        executor once recorded."""
        where = BulkFilter(
            instance=request.instance,
            status=request.status,
            since=_seconds(request.since),
            until=_seconds(request.until),
            error=request.error,
            limit=request.limit,
        )
        outcome = await bulk_replay(
            relay,
            where,
            from_step=request.from_step,
            flow_version=request.flow_version,
            dry_run=request.dry_run,
        )
        for new_id, _original in outcome.replays:
            await executor.submit(new_id, request.instance)
        return {
            "dry_run": request.dry_run,
            "count": len(outcome.chosen),
            "ids": outcome.chosen,
            "more": outcome.more,
            "replays": [{"id": n, "replay_of": o} for n, o in outcome.replays],
            "refused": [{"id": i, "reason": r} for i, r in outcome.refused],
        }

    return router
