"""Numeric settings read from environment variables, each checked with an error naming the
variable (``RELAY_TIME_LIMIT='soon' is not a valid float``)."""

from __future__ import annotations

import math
from typing import Any

from runtime.errors import ConfigurationError

#: ``env_value`` kinds for numbers that must be above zero (plain ``int``/``float``: zero or
#: more; no relay setting takes a negative or infinite number).
POSITIVE = "positive number"
POSITIVE_INT = "positive whole number"
_POSITIVE_BASES: dict[str, type[Any]] = {POSITIVE: float, POSITIVE_INT: int}


def env_value(name: str, raw: str, kind: type[Any] | str) -> Any:
    """``raw`` (the value of environment variable ``name``) as ``kind``, or a clear error
    naming the variable."""
    positive = isinstance(kind, str)
    base = _POSITIVE_BASES[kind] if isinstance(kind, str) else kind
    try:
        value = base(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a valid {base.__name__}") from None
    numeric = base in (int, float)
    if numeric and (not math.isfinite(value) or value < 0 or (positive and value == 0)):
        need = "above zero" if positive else "zero or more"
        raise ConfigurationError(f"{name}={raw!r}: must be a finite number {need}")
    return value
