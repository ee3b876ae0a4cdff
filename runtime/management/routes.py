"""The API's routes: instances and executions, each behind the scope it needs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Path, Query

from runtime.errors import RelayError
from runtime.management.models import (
    CancelOutcome,
    DeliveryOutcome,
    DeliveryPage,
    ExecutionDocument,
    ExecutionPage,
    ExecutionStatus,
    InstanceDetail,
    InstanceSummary,
    ReplayAccepted,
    ReplayRequest,
)
from runtime.management.problems import ApiProblem, Problem, ProblemRoute
from runtime.management.views import (
    decode_cursor,
    delivery_item,
    encode_cursor,
    encode_key,
    execution_summary,
    execution_view,
    redacted_config,
)
from runtime.store.execution_pages import ExecutionFilter

if TYPE_CHECKING:
    from runtime.executors import Executor
    from runtime.flows import Flow
    from runtime.management.auth import Authenticator
    from runtime.service import Service
    from runtime.store import Instance

#: The most executions one page holds.
PAGE_MAX = 200


def _problem(status: int, description: str) -> dict[int | str, dict[str, Any]]:
    """An answer a route may give, as its OpenAPI ``responses`` entry."""
    return {
        status: {
            "model": Problem,
            "description": description,
            "content": {"application/problem+json": {}},
        }
    }


_NOT_FOUND = _problem(404, "No such thing")
_FORBIDDEN = _problem(403, "The token's scope is too small")
_CONFLICT = _problem(409, "Not possible in its present state")

#: PostgreSQL text cannot hold NUL: a name or id with one is a 422, never a database error.
NO_NUL = r"^[^\x00]+$"
Name = Annotated[str, Path(min_length=1, max_length=200, pattern=NO_NUL)]
ExecutionId = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_NUL)]


def instances_router(relay: Service, auth: Authenticator) -> APIRouter:
    """``/instances``: read scope."""
    router = APIRouter(
        prefix="/instances",
        tags=["instances"],
        route_class=ProblemRoute,
        dependencies=[Depends(auth.require("read"))],
    )

    def flow_of(instance: Instance) -> Flow | None:
        """The instance's flow; ``None`` when it no longer loads (a component uninstalled):
        the instance is still listed."""
        try:
            return relay.flow_of(instance)
        except RelayError:
            return None

    async def summary(instance: Instance, counts: dict[str, int]) -> dict[str, object]:
        flow = flow_of(instance)
        receives = flow is None or flow.trigger.receives_webhooks
        return {
            "name": instance.name,
            "flow": instance.flow_name,
            "flow_version": instance.flow_version,
            "webhook_url": relay.webhook_url(instance) if receives else None,
            "created_at": instance.created_at,
            "executions": counts,
        }

    @router.get("", response_model=list[InstanceSummary])
    async def list_instances() -> list[dict[str, object]]:
        """Every deployed instance, by name, with its executions counted by status."""
        counts = await relay.store.execution_counts()
        return [
            await summary(i, counts.get(i.name, {})) for i in await relay.store.list_instances()
        ]

    @router.get("/{name}", response_model=InstanceDetail, responses=_NOT_FOUND)
    async def get_instance(name: Name) -> dict[str, object]:
        """One instance, its config with every secret redacted."""
        instance = await relay.store.get_instance(name)
        if instance is None:
            raise ApiProblem(404, "not-found", f"no instance named {name!r}")
        counts = await relay.store.execution_counts()
        return {
            **await summary(instance, counts.get(name, {})),
            "flow_path": instance.flow_path,
            "config": redacted_config(relay, instance, flow_of(instance)),
        }

    @router.get("/{name}/deliveries", response_model=DeliveryPage, responses=_NOT_FOUND)
    async def list_deliveries(
        name: Name,
        outcome: Annotated[
            DeliveryOutcome | None,
            Query(description="duplicate: accepted deliveries that arrived more than once."),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
        cursor: Annotated[str | None, Query(max_length=400)] = None,
    ) -> dict[str, object]:
        """What the instance was sent, newest first, a page at a time (keyset): accepted
        deliveries with their duplicates counted, and rejected or ignored ones counted by
        reason and minute (never a body)."""
        after = decode_cursor(cursor) if cursor is not None else None
        if await relay.store.get_instance(name) is None:
            raise ApiProblem(404, "not-found", f"no instance named {name!r}")
        rows = await relay.deliveries(name, outcome, limit + 1, after)
        more = len(rows) > limit
        rows = rows[:limit]
        return {
            "items": [delivery_item(r) for r in rows],
            "next_cursor": encode_key(*rows[-1].key) if more else None,
        }

    return router


def _seconds(value: datetime | None) -> float | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()


def executions_router(relay: Service, executor: Executor, auth: Authenticator) -> APIRouter:
    """``/executions``: read scope to look, operate scope to cancel and replay."""
    router = APIRouter(prefix="/executions", tags=["executions"], route_class=ProblemRoute)
    read = [Depends(auth.require("read"))]
    operate = [Depends(auth.require("operate"))]

    @router.get("", response_model=ExecutionPage, dependencies=read)
    async def list_executions(
        instance: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        status: ExecutionStatus | None = None,
        created_after: Annotated[
            datetime | None, Query(description="ISO 8601 (UTC when no offset) or UNIX seconds.")
        ] = None,
        created_before: datetime | None = None,
        error: Annotated[
            str | None, Query(min_length=1, max_length=200, description="In the error message.")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
        cursor: Annotated[str | None, Query(max_length=400)] = None,
        flow_version: Annotated[
            int | None, Query(ge=1, le=2**31 - 1, description="The flow version they ran.")
        ] = None,
    ) -> dict[str, object]:
        """Executions, newest first, a page at a time (keyset: rows recorded while paging
        never shift a page)."""
        after = decode_cursor(cursor) if cursor is not None else None
        where = ExecutionFilter(
            instance=instance,
            status=status,
            created_after=_seconds(created_after),
            created_before=_seconds(created_before),
            error=error,
            flow_version=flow_version,
        )
        rows = await relay.store.page_executions(where, limit + 1, after)
        more = len(rows) > limit
        rows = rows[:limit]
        return {
            "items": [execution_summary(r) for r in rows],
            "next_cursor": encode_cursor(rows[-1]) if more else None,
        }

    @router.get(
        "/{execution_id}", response_model=ExecutionDocument, dependencies=read, responses=_NOT_FOUND
    )
    async def get_execution(execution_id: ExecutionId) -> dict[str, object]:
        """One execution: its steps (so far, for one not finished), inputs and outputs
        redacted."""
        row = await relay.store.get_execution(execution_id)
        if row is None:
            raise ApiProblem(404, "not-found", f"no execution {execution_id!r}")
        return await execution_view(relay, row)

    @router.post(
        "/{execution_id}/cancel",
        response_model=CancelOutcome,
        dependencies=operate,
        responses={**_NOT_FOUND, **_FORBIDDEN, **_CONFLICT},
    )
    async def cancel_execution(execution_id: ExecutionId) -> dict[str, object]:
        """Cancel an execution: a pending, held or waiting one at once, a running one at its next
        step; 409 for one already finished."""
        try:
            outcome = await relay.cancel(execution_id)
        except LookupError:
            raise ApiProblem(404, "not-found", f"no execution {execution_id!r}") from None
        if outcome == "finished":
            row = await relay.store.get_execution(execution_id)
            status = row.status if row is not None else "finished"
            raise ApiProblem(
                409, "conflict", f"execution {execution_id} is already {status}: nothing to cancel"
            )
        return {"id": execution_id, "outcome": outcome}

    @router.post(
        "/{execution_id}/replay",
        response_model=ReplayAccepted,
        status_code=202,
        dependencies=operate,
        responses={**_NOT_FOUND, **_FORBIDDEN, **_CONFLICT},
    )
    async def replay_execution(
        execution_id: ExecutionId, request: ReplayRequest | None = None
    ) -> dict[str, object]:
        """Run an execution again with the same trigger payload (from a step, on the original
        or the current flow version); answers once the replay is recorded."""
        options = request or ReplayRequest()
        original = await relay.store.get_execution(execution_id)
        if original is None:
            raise ApiProblem(404, "not-found", f"no execution {execution_id!r}")
        new_id = await relay.replay(
            execution_id, from_step=options.from_step, flow_version=options.flow_version
        )
        await executor.submit(new_id, original.instance)
        return {"id": new_id, "replay_of": execution_id, "status": "pending"}

    return router
