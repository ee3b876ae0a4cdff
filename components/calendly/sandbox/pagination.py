"""Calendly pagination: ``count`` + opaque ``page_token``, five keys, ``next_page`` URLs.

Tokens carry an offset into the filtered, sorted result, a fingerprint of the filters (a token
from another query is invalid) and the issue time (tokens go stale, as Calendly's do).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from .errors import bad_param

if TYPE_CHECKING:
    from collections.abc import Sequence

T = TypeVar("T")
_RESERVED = ("count", "page_token")


def _fingerprint(filters: Sequence[tuple[str, str]]) -> str:
    raw = json.dumps(sorted(filters), separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()[:12]


def encode_token(offset: int, filters: Sequence[tuple[str, str]], now: float) -> str:
    """Make an opaque token for ``offset``."""
    raw = json.dumps({"o": offset, "f": _fingerprint(filters), "t": int(now)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_token(token: str, filters: Sequence[tuple[str, str]], now: float, ttl: float) -> int:
    """Return the offset in ``token``; 400 when it is malformed, foreign or stale."""
    invalid = bad_param("page_token", "is invalid")
    try:
        padded = token + "=" * (-len(token) % 4)
        data: Any = json.loads(base64.urlsafe_b64decode(padded.encode()))
        offset = data["o"]
        fingerprint = data["f"]
        issued = data["t"]
    except (ValueError, KeyError, TypeError) as exc:
        raise invalid from exc
    if not isinstance(offset, int) or not isinstance(issued, int) or offset < 0:
        raise invalid
    if fingerprint != _fingerprint(filters) or now - issued > ttl:
        raise invalid
    return offset


def paginate(
    items: Sequence[T],
    *,
    url: str,
    filters: Sequence[tuple[str, str]],
    count: int,
    page_token: str | None,
    now: float,
    ttl: float,
) -> tuple[Sequence[T], dict[str, Any]]:
    """Slice one page of ``items`` and build Calendly's pagination object.

    ``url`` is the collection's full URL without a query; ``filters`` are the request's query
    parameters other than ``count``/``page_token``, repeated in the page links.
    """
    kept = [(k, v) for k, v in filters if k not in _RESERVED]
    offset = decode_token(page_token, kept, now, ttl) if page_token else 0
    page = items[offset : offset + count]

    def link(token: str) -> str:
        return f"{url}?{urlencode([*kept, ('count', str(count)), ('page_token', token)])}"

    next_token = encode_token(offset + count, kept, now) if offset + count < len(items) else None
    prev_token = encode_token(max(0, offset - count), kept, now) if offset > 0 else None
    pagination = {
        "count": len(page),
        "next_page": link(next_token) if next_token else None,
        "previous_page": link(prev_token) if prev_token else None,
        "next_page_token": next_token,
        "previous_page_token": prev_token,
    }
    return page, pagination
