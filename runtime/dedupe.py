"""A delivery's identity: what makes two deliveries the same, so the second is a duplicate.

Where the identity comes from is the trigger's to say (``FlowTrigger.dedupe_key``): a flow's
``dedupe: ${{ expr }}``, a plain webhook's ``Idempotency-Key`` header, a component trigger's
declared payload fields (``Trigger.dedupe_key``), or, for a component trigger that declares
nothing, the body's SHA-256. Every key is stored bounded: ``SOURCE:TEXT``, the text as it is
when it is short and printable, else ``#`` and its SHA-256.

Keys live for ``RELAY_DEDUPE_WINDOW`` (a duration, default 7d): a delivery whose key was first
seen that long ago runs again.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runtime.durations import parse_duration
from runtime.errors import ConfigurationError, ExpressionError, WebhookRejected
from runtime.expressions import ROOTS

if TYPE_CHECKING:
    from runtime.expressions import Template

#: The dedupe window when ``RELAY_DEDUPE_WINDOW`` is unset: seven days.
DEFAULT_WINDOW = 7 * 86400.0
#: Characters of a key kept as written; a longer one is stored as its hash.
SHORT = 200
#: The longest ``Idempotency-Key`` header accepted (longer: 400).
MAX_HEADER = 255
#: The header a plain webhook's sender names a delivery with.
IDEMPOTENCY_HEADER = "idempotency-key"
#: A dotted path into a trigger payload (``body.payload.uri``).
PATH = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$")
_VISIBLE = re.compile(r"^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$")


def dedupe_window_from_env() -> float:
    """``RELAY_DEDUPE_WINDOW`` in seconds (default ``DEFAULT_WINDOW``); a clear error naming
    the variable when it is not a duration above zero."""
    raw = os.environ.get("RELAY_DEDUPE_WINDOW", "").strip()
    if not raw:
        return DEFAULT_WINDOW
    try:
        seconds = parse_duration(raw)
    except ValueError:
        seconds = math.nan
    if not (0 < seconds < math.inf):
        raise ConfigurationError(
            f"RELAY_DEDUPE_WINDOW={raw!r} is not a duration above zero (e.g. 12h, 7d)"
        )
    return seconds


def stored_key(source: str, value: Any) -> str:
    """``value`` (a string, or any JSON value: written canonically) as a stored key of
    ``source``: kept as written when short and printable, else hashed."""
    text = value if isinstance(value, str) else canonical(value)
    if len(text) <= SHORT and text.isprintable() and not text.startswith("#"):
        return f"{source}:{text}"
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{source}:#{digest}"


def canonical(value: Any) -> str:
    """``value`` as JSON with sorted keys and no spaces: equal values, equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def body_key(body: bytes) -> str:
    """The identity of a delivery known only by its bytes."""
    return "body:" + hashlib.sha256(body).hexdigest()


def header_key(headers: Mapping[str, str]) -> str | None:
    """The ``Idempotency-Key`` a sender gave (``None``: none); 400 when it is empty, longer
    than ``MAX_HEADER`` or holds anything but visible ASCII and inner spaces."""
    value = headers.get(IDEMPOTENCY_HEADER)  # the server's names are lower-case already
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == IDEMPOTENCY_HEADER), None)
    if value is None:
        return None
    if len(value) > MAX_HEADER or not _VISIBLE.match(value):
        raise WebhookRejected(
            f"the Idempotency-Key header must be 1 to {MAX_HEADER} visible ASCII characters",
            status=400,
        )
    return stored_key("key", value)


def expression_key(template: Template, payload: Mapping[str, Any]) -> str | None:
    """The flow's ``dedupe:`` expression over the trigger payload (``None``: it gave null, so
    the delivery has no identity); 422 when it cannot be evaluated."""
    try:
        value = template.render({"trigger": payload})
    except ExpressionError as exc:
        message = " ".join(str(exc).split())[:150]
        raise WebhookRejected(f"the flow's dedupe expression failed: {message}", 422) from None
    except (RecursionError, MemoryError):
        raise WebhookRejected("the flow's dedupe expression failed: too deep", 422) from None
    if value is None:
        return None
    try:
        return stored_key("expr", value)
    except (ValueError, RecursionError):  # a value JSON cannot write (e.g. nested too deep)
        raise WebhookRejected("the flow's dedupe expression gave no usable value", 422) from None


def declared_key(paths: tuple[str, ...], payload: Mapping[str, Any]) -> str | None:
    """The values at a component trigger's declared ``paths`` in the payload, as one key
    (``None``: the payload has none of them)."""
    values = [_at(payload, path) for path in paths]
    if all(v is None for v in values):
        return None
    return stored_key("event", values)


def path_problem(path: object) -> str | None:
    """What is wrong with a declared dedupe path, or ``None``."""
    if not isinstance(path, str) or not PATH.match(path) or len(path) > 200:
        return f"{path!r} is not a dotted path into the trigger payload (e.g. body.payload.uri)"
    return None


def _at(payload: Mapping[str, Any], path: str) -> Any:
    found: Any = payload
    for part in path.split("."):
        if not isinstance(found, Mapping):
            return None
        found = found.get(part)
    return found


#: The ``dedupe:`` key of a ``trigger:`` mapping, as the flow schema describes it.
DEDUPE_FORM: Mapping[str, Any] = {
    "type": "string",
    "description": "What makes two deliveries the same, as an expression over the trigger "
    "payload, e.g. ${{ trigger.body.id }}: a delivery whose value was seen within "
    "RELAY_DEDUPE_WINDOW is a duplicate (null: it runs)",
}


def dedupe_problem(template: Template) -> str | None:
    """What keeps ``template`` from being a ``dedupe:`` expression, or ``None``: it reads the
    trigger payload only, and runs on every delivery, so it may not iterate."""
    if not template.expressions:
        return "dedupe must be an expression over the trigger payload, e.g. ${{ trigger.body.id }}"
    if template.budgeted:
        return (
            "a dedupe expression runs on every delivery: no map, filter, all, exists or "
            "exists_one, and at most 8 + in a row"
        )
    read = set().union(*(e.variables for e in template.expressions))
    others = sorted((read & ROOTS) - {"trigger"})
    if others:
        return f"a dedupe expression reads only trigger (the delivery), not {', '.join(others)}"
    return None
