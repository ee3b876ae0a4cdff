"""What the API takes and returns: the pydantic models its handlers declare, from which
FastAPI builds both the validation and the OpenAPI document."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

#: The statuses an execution can have.
ExecutionStatus = Literal[
    "pending", "held", "running", "waiting", "completed", "failed", "canceled"
]


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
