"""Durations as flows write them (``500ms``, ``2s``, ``5m``, ``1h``, ``7d`` or seconds), in
seconds."""

from __future__ import annotations

import re

_DURATION = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)?$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: str | float | int) -> float:
    """``"500ms"``, ``"2s"``, ``"5m"``, ``"1h"``, ``"7d"`` or a number of seconds -> seconds."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(value.strip())
    if not match:
        raise ValueError(f"not a duration: {value!r} (use e.g. 500ms, 2s, 5m, 1h, 7d)")
    return float(match.group(1)) * _UNITS[match.group(2)]
