"""What the API takes and returns: the pydantic models its handlers declare, from which
FastAPI builds both the validation and the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: The statuses an execution can have.
ExecutionStatus = Literal[
    "pending", "held", "running", "waiting", "completed", "failed", "canceled"
]


#: What an instance's deliveries may be narrowed to (``duplicate``: accepted deliveries that
#: arrived more than once).
DeliveryOutcome = Literal["accepted", "duplicate", "rejected", "ignored"]


class InstanceSummary(BaseModel):
    """A deployed instance, as listed."""

    name: str
    flow: str = Field(description="The flow's name.")
    flow_version: int
    webhook_url: str | None = Field(description="None for a flow nothing posts to.")
    created_at: float = Field(description="UNIX seconds.")
    executions: dict[str, int] = Field(description="How many executions it has, by status.")


class InstanceDetail(InstanceSummary):
    """One instance with its config (every secret redacted)."""

    flow_path: str
    config: dict[str, Any] = Field(
        description="The deploy config: secret variables, connection fields and secret-named "
        "keys redacted."
    )


class ExecutionSummary(BaseModel):
    """An execution, as listed."""

    id: str
    instance: str | None
    status: ExecutionStatus
    flow_version: int
    created_at: float = Field(description="UNIX seconds.")
    finished_at: float | None
    duration_ms: float | None
    replay_of: str | None
    error: dict[str, Any] | None
    wake_at: float | None = Field(description="A waiting execution's wake-up time.")


class ExecutionPage(BaseModel):
    """A page of executions, newest first."""

    items: list[ExecutionSummary]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; None on the last one."
    )


class DeliveryItem(BaseModel):
    """A delivery an instance accepted (its duplicates counted on it), or the deliveries it
    rejected or ignored for one reason in one minute (never a body)."""

    outcome: Literal["accepted", "rejected", "ignored"] = Field(
        description="ignored: accepted and not run (an event the flow does not select)."
    )
    received_at: float = Field(description="UNIX seconds: when it (or the row's first) came.")
    times_seen: int = Field(
        description="accepted: how often it arrived (2 and more: it has duplicates); "
        "rejected and ignored: how many this row counts."
    )
    last_seen_at: float | None = Field(description="When the last of them came.")
    id: str | None = Field(description="The delivery's id (accepted only).")
    execution_id: str | None = Field(description="Its execution (accepted only).")
    execution_status: ExecutionStatus | None = Field(
        description="Its execution's status now (held: the instance is paused)."
    )
    dedupe_key: str | None = Field(
        description="What duplicates are recognised by: SOURCE:VALUE (expr, key, event, body; "
        "a long value as #SHA-256); None: no identity, or it outlived the dedupe window."
    )
    reason: str | None = Field(description="Why it was rejected or ignored.")
    status: int | None = Field(description="The HTTP status it was answered with.")


class DeliveryPage(BaseModel):
    """A page of an instance's deliveries, newest first."""

    items: list[DeliveryItem]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; None on the last one."
    )


class ExecutionDocument(BaseModel):
    """One execution as ``relay execution --json`` prints it (inputs and outputs redacted)."""

    id: str
    flow: str | None
    instance: str | None
    status: ExecutionStatus
    created_at: float | None
    started_at: float | None
    finished_at: float | None
    duration_ms: float | None
    replay_of: str | None
    error: dict[str, Any] | None
    payload: Any = None
    steps: list[dict[str, Any]]
    outputs: dict[str, Any]
    connections: dict[str, Any]


class CancelOutcome(BaseModel):
    """What a cancel did."""

    id: str
    outcome: Literal["canceled", "requested"] = Field(
        description="canceled: at once (it was pending, held or waiting); requested: it runs and "
        "stops at its next step."
    )


class ReplayRequest(BaseModel):
    """How to replay an execution."""

    model_config = ConfigDict(extra="forbid")

    from_step: str | None = Field(
        default=None,
        min_length=1,
        max_length=1000,
        description="Reuse the recorded outputs of the top-level steps before this one.",
    )
    flow_version: Literal["original", "current"] = "original"


class ReplayAccepted(BaseModel):
    """The replay, recorded and handed to the executor."""

    id: str = Field(description="The new execution's id.")
    replay_of: str
    status: ExecutionStatus


class Health(BaseModel):
    """Whether the API answers."""

    status: Literal["ok"]
