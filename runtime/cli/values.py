"""What the CLI reads from its arguments and writes to stdout: typed ``--input`` values, strict
JSON, and lists printed whole (never cut to the terminal's width)."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from runtime.declarations import Input

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})


def finite(value: Any) -> Any:
    """``value`` with every non-finite float as a string (``"NaN"``, ``"Infinity"``,
    ``"-Infinity"``): JSON has no such numbers, and a string keeps what was there."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value


def strict_json(data: Any) -> str:
    """``data`` as JSON any parser accepts: no ``NaN``/``Infinity`` (see ``finite``); values
    JSON cannot hold (timestamps, bytes) as their text."""
    return json.dumps(finite(data), indent=2, default=str, allow_nan=False)


def convert_input(spec: Input | None, key: str, raw: str) -> Any:
    """The text of ``--input KEY=RAW`` as the value the input ``spec`` declares: booleans,
    integers, numbers and JSON (``code``) are converted; anything else stays text. A value
    that does not convert is one ``ConfigurationError`` naming ``--input KEY``."""
    if spec is None or spec.collection is not None:
        return _json_or_text(raw) if spec is not None else raw
    kind = spec.type
    if kind == "boolean":
        word = raw.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise ConfigurationError(f"--input {key}: {raw!r} is not a boolean (true or false)")
    if kind == "integer":
        try:
            return int(raw.strip())
        except ValueError:
            raise ConfigurationError(f"--input {key}: {raw!r} is not an integer") from None
    if kind == "number":
        try:
            number = float(raw.strip())
        except ValueError:
            raise ConfigurationError(f"--input {key}: {raw!r} is not a number") from None
        if not math.isfinite(number):
            raise ConfigurationError(f"--input {key}: {raw!r} is not a finite number")
        return int(number) if number.is_integer() and "." not in raw else number
    if kind == "code":
        return _parse_json(key, raw)
    return raw


class _NotJson(ValueError):
    """``NaN``/``Infinity``: Python's parser takes them, JSON (and every other parser) does not."""


def _refuse_constant(name: str) -> Any:
    raise _NotJson(name)


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):  # 1e999: a number too large for any JSON consumer
        raise _NotJson(text)
    return number


def _json_or_text(raw: str) -> Any:
    try:
        return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):
        return raw


def _parse_json(key: str, raw: str) -> Any:
    try:
        return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _NotJson as exc:
        raise ConfigurationError(f"--input {key}: not JSON ({exc} is not a JSON value)") from None
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"--input {key}: not JSON ({exc.msg} at column {exc.colno})"
        ) from None
    except RecursionError:
        raise ConfigurationError(f"--input {key}: JSON nested too deeply") from None


def rows_text(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """Aligned lines (a header, then one per row), every value whole: columns are as wide as
    their widest value, and a line longer than the terminal wraps rather than being cut."""
    table = [list(headers), *[list(r) for r in rows]]
    widths = [max(len(r[i]) for r in table) for i in range(len(headers))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in table]
