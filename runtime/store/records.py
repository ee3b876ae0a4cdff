"""What the store hands back: frozen values, built from rows by named constructors.

Secrets (config, deploy state, webhook token) are decrypted here and kept out of ``repr``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from runtime.errors import RelayError
from runtime.store.values import loads

if TYPE_CHECKING:
    from collections.abc import Mapping

    from runtime.store.crypto import Keyring


@frozen
class Holder:
    """Who holds a running execution: the worker and the claim's attempt number. Every write
    a run makes carries it (fencing): a claim that lapsed and was taken over counts ``attempts``
    up, so the earlier holder's writes match no row, even from the same worker id."""

    worker: str
    attempt: int


class LeaseLost(RelayError):
    """A write for an execution whose lease this writer no longer holds was refused."""

    def __init__(self, execution_id: str, holder: Holder) -> None:
        super().__init__(
            f"execution {execution_id}: the lease of {holder.worker} (attempt {holder.attempt})"
            " is no longer held; the write was refused"
        )
        self.execution_id = execution_id
        self.holder = holder


@frozen
class Instance:
    """A deployed flow: its flow text and version, resolved config and deploy state."""

    name: str
    flow_name: str
    flow_path: str
    flow_text: str = field(repr=False)
    flow_version: int
    config: dict[str, Any] = field(repr=False)
    webhook_token: str = field(repr=False)
    deploy_state: dict[str, Any] = field(repr=False)
    created_at: float
    #: ``running``, or ``paused`` (its deliveries are held, its schedule and polls stop)
    status: str = "running"
    paused_at: float | None = None

    @property
    def paused(self) -> bool:
        """Whether the instance is paused."""
        return self.status == "paused"

    @classmethod
    def from_row(cls, row: Mapping[Any, Any], keyring: Keyring) -> Instance:
        """The instance of an ``instances`` row, its config and deploy state decrypted."""
        return cls(
            name=row["name"],
            flow_name=row["flow_name"],
            flow_path=row["flow_path"],
            flow_text=row["flow_text"],
            flow_version=row["flow_version"],
            config=keyring.decrypt_json(row["config"]),
            webhook_token=row["webhook_token"],
            deploy_state=keyring.decrypt_json(row["deploy_state"]),
            created_at=row["created_at"],
            status=row.get("status") or "running",
            paused_at=row.get("paused_at"),
        )


@frozen
class FlowVersion:
    """One flow an instance was deployed with: version 1 at deploy, one more each redeploy."""

    instance: str
    version: int
    flow_text: str = field(repr=False)
    config: dict[str, Any] = field(repr=False)
    created_at: float

    @classmethod
    def from_row(cls, row: Mapping[Any, Any], keyring: Keyring) -> FlowVersion:
        """The version of a ``flow_versions`` row, its config decrypted."""
        return cls(
            instance=row["instance"],
            version=row["version"],
            flow_text=row["flow_text"],
            config=keyring.decrypt_json(row["config"]),
            created_at=row["created_at"],
        )


@frozen
class Delivery:
    """A webhook delivery exactly as received (the raw body is what signatures cover)."""

    id: str
    instance: str
    dedupe_key: str
    headers: dict[str, str]
    body: bytes = field(repr=False)
    received_at: float


@frozen
class ExecutionRow:
    """One execution as stored.

    ``payload`` is the trigger payload given to ``create_execution`` or ``record_delivery``;
    for the latter, ``delivery`` also holds the raw delivery. ``reused_outputs`` are the step
    outputs a replay reuses. ``state`` is the execution-scoped state saved by
    ``finish_execution``. ``worker``/``lease_until`` say who holds a running one.
    """

    id: str
    instance: str | None
    status: str
    flow_text: str = field(repr=False)
    flow_version: int
    payload: Any = field(repr=False)
    result: dict[str, Any] | None = field(repr=False)
    created_at: float
    started_at: float | None
    finished_at: float | None
    attempts: int
    replay_of: str | None
    delivery: Delivery | None = field(default=None, repr=False)
    reused_outputs: dict[str, Any] | None = field(default=None, repr=False)
    state: dict[str, Any] | None = field(default=None, repr=False)
    worker: str | None = None
    lease_until: float | None = None
    #: a waiting execution's wake-up time
    wake_at: float | None = None
    #: whether a cancel was asked for while it ran
    cancel_requested: bool = False

    @property
    def holder(self) -> Holder | None:
        """The lease as this row was read (a claim's row: the claimant's), if it is held."""
        return None if self.worker is None else Holder(self.worker, self.attempts)

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ExecutionRow:
        """From an ``executions`` row, outer-joined with its delivery (``d_*`` columns) or
        alone (then ``delivery`` is ``None``)."""
        delivery = None
        if row.get("d_id") is not None:
            delivery = Delivery(
                id=row["d_id"],
                instance=row["d_instance"],
                dedupe_key=row["d_dedupe_key"],
                headers=loads(row["d_headers"]),
                body=bytes(row["d_body"]),
                received_at=row["d_received_at"],
            )
        return cls(
            id=row["id"],
            instance=row["instance"],
            status=row["status"],
            flow_text=row["flow_text"],
            flow_version=row["flow_version"],
            payload=loads(row["payload"]),
            result=loads(row["result"]),
            created_at=row["created_at"],
            started_at=row["started_at"],
            finished_at=row["finished_at"],
            attempts=row["attempts"],
            replay_of=row["replay_of"],
            delivery=delivery,
            reused_outputs=loads(row["reused_outputs"]),
            state=loads(row["state"]),
            worker=row["worker"],
            lease_until=row["lease_until"],
            wake_at=row.get("wake_at"),
            cancel_requested=bool(row.get("cancel_requested")),
        )
