"""What the handlers show of stored things: instances with their secrets redacted, executions
as summaries and documents, and the opaque page cursor."""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import TYPE_CHECKING, Any

from runtime.management.problems import ApiProblem, FieldProblem, finite
from runtime.redaction import REDACTED, Redactor
from runtime.results import execution_document
from runtime.running import progress

if TYPE_CHECKING:
    from runtime.flows import Flow
    from runtime.service import Service
    from runtime.store import Instance
    from runtime.store.deliveries import DeliveryEntry
    from runtime.store.records import ExecutionRow


def redacted_config(relay: Service, instance: Instance, flow: Flow | None) -> dict[str, Any]:
    """The instance's deploy config with every secret hidden: the values of variables the flow
    marks ``secret``, every field of a connection given inline (the name of a stored
    connection, ``{use: NAME}``, stays), secret-named keys anywhere, and any secret the
    runtime knows. Without its flow (it no longer loads), every value."""
    if flow is None:  # which values are secret is the flow's to say: without it, all are
        return dict.fromkeys(instance.config, REDACTED)
    shown: dict[str, Any] = {}
    for name, value in instance.config.items():
        variable = flow.config_variable(name)
        if variable is not None and variable.secret:
            shown[name] = REDACTED
        elif variable is not None and variable.type == "connection" and isinstance(value, dict):
            # ``{use: NAME}`` names a stored connection: the name is no secret
            shown[name] = {k: v if k == "use" else REDACTED for k, v in value.items()}
        else:
            shown[name] = value
    return dict(relay.runtime.redactor.value(Redactor().value(finite(shown))))


def execution_summary(row: ExecutionRow) -> dict[str, Any]:
    """An execution as the listing shows it."""
    result = row.result or {}
    error = result.get("error")
    return {
        "id": row.id,
        "instance": row.instance,
        "status": row.status,
        "flow_version": row.flow_version,
        "created_at": row.created_at,
        "finished_at": row.finished_at,
        "duration_ms": _number(result.get("duration_ms")),
        "replay_of": row.replay_of,
        "error": finite(Redactor().value(error)) if isinstance(error, dict) else None,
        "wake_at": row.wake_at if row.status == "waiting" else None,
    }


async def execution_view(relay: Service, row: ExecutionRow) -> dict[str, Any]:
    """The execution document (``relay execution --json``): for one not finished, the steps
    it has checkpointed so far; secrets scrubbed again with what this process knows."""
    steps: list[dict[str, Any]] = []
    if row.result is None:
        steps = progress(await relay.store.load_checkpoints(row.id))
    document = execution_document(
        row.result or {"steps": steps},
        payload=row.payload,
        id=row.id,
        instance=row.instance,
        status=row.status,
        created_at=row.created_at,
        finished_at=row.finished_at,
        replay_of=row.replay_of,
    )
    scrubbed: dict[str, Any] = relay.runtime.redactor.value(Redactor().value(document))
    return dict(finite(scrubbed))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def encode_cursor(row: ExecutionRow) -> str:
    """The cursor continuing after ``row``: its ``(created_at, id)``, opaque to clients
    (``repr`` of the time keeps every bit of the float, so equal times compare equal)."""
    return encode_key(row.created_at, row.id)


def encode_key(at: float, tiebreak: str) -> str:
    """The opaque cursor of the keyset position ``(at, tiebreak)`` (see ``decode_cursor``)."""
    text = json.dumps([repr(at), tiebreak], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def delivery_item(entry: DeliveryEntry) -> dict[str, Any]:
    """A delivery as the listing shows it."""
    return entry.as_dict()


def decode_cursor(cursor: str) -> tuple[float, str]:
    """The key ``encode_cursor`` made ``cursor`` from; a problem naming ``cursor`` otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, last = json.loads(raw)
        key = float(at), last
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        key = None
    # (a NUL could not even be compared on PostgreSQL: no cursor this API returns holds one)
    if key is None or not isinstance(key[1], str) or "\x00" in key[1] or not math.isfinite(key[0]):
        raise ApiProblem(
            422,
            "validation",
            "the request is not valid",
            errors=[
                FieldProblem(
                    location="query",
                    field="$.cursor",
                    message="not a cursor this API returned (pass next_cursor as it is)",
                )
            ],
        )
    return key
