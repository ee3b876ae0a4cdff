"""Turning the sandbox's attrs records into JSON and back, checking every value on the way in.

A state file is outside data (a user may edit it, a disk may truncate it), so decoding checks
each field against the record's own annotations and names the JSON path of the first value that
does not fit. Inside the sandbox the records are then trusted.
"""

from __future__ import annotations

import functools
import json
import math
import random
import types
import typing
from typing import Any, TypeVar, cast

import attrs

if typing.TYPE_CHECKING:
    from collections.abc import Callable, Mapping

R = TypeVar("R")
#: 9999-12-31T23:59:59Z: the last instant ISO 8601 dates (and Python's datetime) can write.
LAST_TIME = 253402300799.0


class StateFormatError(ValueError):
    """A value in a state file does not fit; the message names its JSON path."""


def path_of(parent: str, key: str | int) -> str:
    """``parent`` extended by a key (quoted and cut short, so a hostile key stays one line)."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if key.isidentifier() and len(key) <= 40:
        return f"{parent}.{key}"
    shown = key if len(key) <= 40 else key[:40] + "..."
    return f"{parent}[{json.dumps(shown)}]"


def _fail(path: str, message: str) -> StateFormatError:
    return StateFormatError(f"{path}: {message}")


# --- encoding ----------------------------------------------------------------------------------


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | set | frozenset):
        items = sorted(value) if isinstance(value, set | frozenset) else value
        return [_plain(v) for v in items]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def encode(record: Any) -> dict[str, Any]:
    """One attrs record as a JSON object of its fields."""
    return {f.name: _plain(getattr(record, f.name)) for f in attrs.fields(type(record))}


def encode_rng(rng: random.Random) -> list[Any]:
    """A generator's internal state as JSON, so identifiers continue where they stopped."""
    plain: list[Any] = _plain(rng.getstate())
    return plain


# --- decoding ----------------------------------------------------------------------------------


def _text(value: Any, path: str) -> str:
    if not isinstance(value, str):
        raise _fail(path, "must be a string")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise _fail(path, "holds a character that is not valid text") from None
    return value


def _json_value(value: Any, path: str) -> Any:
    """Any JSON value, with its strings checked to be encodable and its numbers finite."""
    if isinstance(value, str):
        return _text(value, path)
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(path, "must be a finite number")
    if isinstance(value, list):
        return [_json_value(v, path_of(path, i)) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {_text(k, path): _json_value(v, path_of(path, k)) for k, v in value.items()}
    return value


def _scalar(value: Any, tp: type, path: str) -> Any:
    if tp is str:
        return _text(value, path)
    if tp is bool:
        if not isinstance(value, bool):
            raise _fail(path, "must be true or false")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _fail(path, "must be an integer")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _fail(path, "must be a number")
        if not math.isfinite(value):
            raise _fail(path, "must be a finite number")
        return float(value)
    raise _fail(path, f"has a type the sandbox cannot read ({tp!r})")


def _union(value: Any, args: tuple[Any, ...], path: str) -> Any:
    if value is None:
        if type(None) in args:
            return None
        raise _fail(path, "must not be null")
    arms = [a for a in args if a is not type(None)]
    if len(arms) == 1:
        return check(value, arms[0], path)
    first: StateFormatError | None = None
    for arm in arms:
        try:
            return check(value, arm, path)
        except StateFormatError as exc:
            first = first or exc
    assert first is not None
    raise first


def check(value: Any, tp: Any, path: str) -> Any:
    """``value`` checked against the annotation ``tp`` (converted where JSON has no such type:
    tuples and sets arrive as lists)."""
    if tp is Any:
        return _json_value(value, path)
    if tp is type(None):
        if value is not None:
            raise _fail(path, "must be null")
        return None
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (types.UnionType, typing.Union):
        return _union(value, args, path)
    if origin is None:
        return _scalar(value, tp, path)
    if origin in (list, tuple, set):
        if not isinstance(value, list):
            raise _fail(path, "must be a list")
        if origin is tuple:
            if len(value) != len(args):
                raise _fail(path, f"must be a list of {len(args)} items")
            return tuple(
                check(v, a, path_of(path, i))
                for i, (v, a) in enumerate(zip(value, args, strict=True))
            )
        items = [check(v, args[0], path_of(path, i)) for i, v in enumerate(value)]
        return set(items) if origin is set else items
    if origin is dict:
        if not isinstance(value, dict):
            raise _fail(path, "must be an object")
        return {_text(k, path): check(v, args[1], path_of(path, k)) for k, v in value.items()}
    raise _fail(path, f"has a type the sandbox cannot read ({tp!r})")


@functools.cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def obj(value: Any, path: str) -> dict[str, Any]:
    """``value`` if it is a JSON object, else an error naming ``path``."""
    if not isinstance(value, dict):
        raise _fail(path, "must be an object")
    return value


def decode(cls: type[R], value: Any, path: str) -> R:
    """A record of ``cls`` from a JSON object with exactly its fields, each value checked."""
    data = obj(value, path)
    hints = _hints(cast("Any", cls))
    fields = {f.name: f for f in attrs.fields(cast("Any", cls))}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise _fail(path_of(path, unknown[0]), "is not a field the sandbox knows")
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        if name not in data:
            if field.default is attrs.NOTHING:
                raise _fail(path_of(path, name), "is missing")
            continue
        value = check(data[name], hints[name], path_of(path, name))
        # a record's numbers with a fraction are times: keep them where dates can show them
        if isinstance(value, float) and not 0.0 <= value <= LAST_TIME:
            raise _fail(path_of(path, name), "must be a time in epoch seconds (years 1970-9999)")
        kwargs[name] = value
    return cls(**kwargs)


def decode_table(cls: type[R], value: Any, path: str, key_of: Callable[[R], str]) -> dict[str, R]:
    """A ``{key: record}`` table; each record's own key (its uuid or token) must match."""
    table: dict[str, R] = {}
    for key, item in obj(value, path).items():
        record = decode(cls, item, path_of(path, key))
        if key_of(record) != key:
            raise _fail(path_of(path, key), "is filed under a key that is not its own")
        table[key] = record
    return table


def decode_rng(value: Any, path: str) -> random.Random:
    """A generator restored from :func:`encode_rng`'s output."""
    if not (isinstance(value, list) and len(value) == 3 and isinstance(value[1], list)):
        raise _fail(path, "is not a generator state")
    version, internal, gauss = value
    words = check(internal, list[int], path_of(path, 1))
    rng = random.Random()
    try:
        rng.setstate((version, tuple(words), gauss))
    except (TypeError, ValueError, OverflowError):
        raise _fail(path, "is not a generator state") from None
    return rng


def require_keys(value: Mapping[str, Any], keys: tuple[str, ...], path: str) -> None:
    """Every key in ``keys`` is present in ``value``."""
    for key in keys:
        if key not in value:
            raise _fail(path_of(path, key), "is missing")
