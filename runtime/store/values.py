"""What the store writes into its columns: row ids, times and JSON text (the same on both
engines; see ``runtime.store.tables`` for the conventions)."""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any


def now() -> float:
    """The time stored in the time columns (UNIX seconds)."""
    return time.time()


_RANDOM = threading.local()
# a forked child must not hand out the random digits its parent is about to hand out
os.register_at_fork(after_in_child=lambda: setattr(_RANDOM, "pool", None))


def _random_hex() -> str:
    """20 hex digits from ``os.urandom``, drawn 64 ids' worth at a time (one system call)."""
    pool: list[str] | None = getattr(_RANDOM, "pool", None)
    if not pool:
        raw = os.urandom(10 * 64).hex()
        pool = _RANDOM.pool = [raw[i : i + 20] for i in range(0, len(raw), 20)]
    return pool.pop()


def new_id() -> str:
    """A new row id: 32 hex digits like ``uuid4().hex``, but time-ordered (48 bits of
    milliseconds, then 80 random bits, as in UUIDv7), so rows inserted together land together
    at the end of the primary-key indexes instead of dirtying a random page each."""
    return f"{time.time_ns() // 1_000_000:012x}{_random_hex()}"


_ENCODER = json.JSONEncoder(separators=(",", ":"))


def dumps(value: Any) -> str:
    """JSON text for a column (compact, ASCII; ``NaN`` allowed, since payloads may carry it).

    A lone surrogate (JSON ``"\\ud800"`` in a webhook body) becomes U+FFFD here, so what an
    execution reads back is text every consumer accepts (CEL refuses such strings). Escaped
    surrogates also stand for characters beyond the BMP, so only text holding one is looked at.
    """
    text = _ENCODER.encode(value)
    if "\\ud" in text:
        fixed = _without_lone_surrogates(value)
        if fixed is not value:
            return _ENCODER.encode(fixed)
    return text


def _without_lone_surrogates(value: Any) -> Any:
    """``value`` with lone surrogates replaced by U+FFFD (``value`` itself if it had none)."""
    if isinstance(value, str):
        return _valid_text(value)
    if isinstance(value, dict):
        fix = _without_lone_surrogates
        pairs = [(fix(k), fix(v)) for k, v in value.items()]
        if all(k is k0 and v is v0 for (k, v), (k0, v0) in zip(pairs, value.items(), strict=True)):
            return value
        return dict(pairs)
    if isinstance(value, list | tuple):
        items = [_without_lone_surrogates(v) for v in value]
        return value if all(a is b for a, b in zip(items, value, strict=True)) else items
    return value


def _valid_text(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        # a surrogate pair written as two code points joins; a lone one is replaced
        return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
    return text


def loads(text: str | None) -> Any:
    """The value of a JSON column (``None`` for SQL NULL)."""
    return None if text is None else json.loads(text)
