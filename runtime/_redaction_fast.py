"""The clean-value check: ``Redactor.value``'s fast path for values with nothing to scrub.

Walking a value in Python to scrub it costs ~0.27 us per node (a 10,000-event listing: 0.23 s
and a full copy), nearly always to find nothing. ``marshal`` serialises the same value in C
(~12 ms for that listing) and writes every ``str`` in it (keys and values) verbatim as UTF-8,
so one byte search per secret tells whether any string contains a secret. Keys: an ASCII key is
written as a "short ASCII" string, its length in the byte before it, so a secret key name shows
up in the lowercased bytes as ``len + name`` (or ``len + name + "\\n"``: ``$`` also matches
before a final newline). A non-ASCII key can only match if it holds one of the four characters
that ``(?i)`` equates with an ASCII letter of the names; where those occur, the bytes around
them are searched for the names spelt with them. Every test errs towards "may need scrubbing"
(then the value is walked); a clean value is returned as it is (that listing: ~45 ms, no copy).
"""

from __future__ import annotations

import functools
import marshal
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Sequence

_MARSHAL_VERSION = 4  # short ASCII strings (1-byte length) exist from version 4 on

#: Non-ASCII characters that ``(?i)`` matches to ASCII letters of the names: U+0130 and U+0131
#: (i), U+017F (long s), U+212A (Kelvin sign, k).
_CASE_TWINS = {"i": ("\u0130", "\u0131"), "s": ("\u017f",), "k": ("\u212a",)}

#: Large values are checked in parts of this many items, so the bytes of only one part are held
#: at a time (a 10,000-event listing: ~5 MB of marshal bytes, and as much again lowercased).
_PART = 256
#: How deep ``_pieces`` looks for large lists and dicts (``{"data": [...]}`` is depth 1).
_PART_DEPTH = 3


class _KeyMarks:
    """How the lowercase ASCII key names look in a value's lowercased marshal bytes."""

    def __init__(self, names: tuple[str, ...]) -> None:
        shared = ("token", "secret", "signing", "cookie")
        groups: dict[str, list[bytes]] = {}
        for name in names:
            sub = next((part for part in shared if part in name), name)
            for text in (name, name + "\n"):
                groups.setdefault(sub, []).append(bytes([len(text)]) + text.encode("ascii"))
        #: (a substring shared by some names, the byte marks of those names): one search of
        #: the lowercased bytes for the substring rules out all of them (usually).
        self.groups = tuple((sub.encode("ascii"), tuple(marks)) for sub, marks in groups.items())
        #: A name written with twins (or without), in the lowercased bytes: only searched for
        #: around each twin found (other non-ASCII text and binary parts also produce bytes).
        self.twin_names = re.compile(b"|".join(_twin_pattern(n) for n in names))
        self.twin_reach = 3 * max(len(n) for n in names)

    def in_bytes(self, blob: bytes, lowered: bytes) -> bool:
        """Whether a key named after one of the names may be in ``blob``."""
        for sub, marks in self.groups:
            if sub in lowered and any(mark in lowered for mark in marks):
                return True
        for lead, tails in _TWIN_TAILS.items():
            at = blob.find(lead)
            while at != -1:
                if any(blob.startswith(tail, at + 1) for tail in tails):
                    window = lowered[max(0, at - self.twin_reach) : at + self.twin_reach]
                    if self.twin_names.search(window):
                        return True
                at = blob.find(lead, at + 1)
        return False


def _twin_tails() -> dict[bytes, tuple[bytes, ...]]:
    """UTF-8 lead byte -> the rest of each twin starting with it: a one-byte search (memchr)
    is cheap, a two- or three-byte one is not."""
    out: dict[bytes, list[bytes]] = {}
    for twins in _CASE_TWINS.values():
        for twin in twins:
            raw = twin.encode("utf-8")
            out.setdefault(raw[:1], []).append(raw[1:])
    return {lead: tuple(tails) for lead, tails in out.items()}


_TWIN_TAILS = _twin_tails()


def _twin_pattern(name: str) -> bytes:
    out = b""
    for char in name:
        twins = _CASE_TWINS.get(char, ())
        options = [re.escape(char.encode("ascii"))] + [re.escape(t.encode("utf-8")) for t in twins]
        out += b"(?:" + b"|".join(options) + b")" if twins else options[0]
    return out


@functools.cache
def _key_marks(names: tuple[str, ...]) -> _KeyMarks:
    return _KeyMarks(names)


class CleanCheck:
    """Which of the two scrub rules could change a value, told from its marshal bytes."""

    def __init__(self, key_names: Sequence[str], secrets: Sequence[str]) -> None:
        """``key_names``: lowercase ASCII names a case-insensitive full match makes a key
        secret; ``secrets``: the secret strings, longest first."""
        self._keys = _key_marks(tuple(key_names))
        self._encoded = tuple(s.encode("utf-8", "surrogatepass") for s in secrets)
        # a few byte searches beat one alternation; many secrets (a busy service) do not
        self._encoded_pattern = (
            re.compile(b"|".join(re.escape(e) for e in self._encoded))
            if len(self._encoded) > 4
            else None
        )

    def rules(self, value: dict[Any, Any] | list[Any]) -> tuple[bool, bool]:
        """(a string in ``value`` may hold a secret, a key in it may be secret-named); errs
        towards True. A large value is checked in parts."""
        if len(value) <= _PART and not any(map(_large, _children(value))):
            return self._found(value)  # a small value (most step outputs): one check
        text = keys = False
        for piece in _pieces(value, 0):
            more_text, more_keys = self._found(piece)
            text, keys = text or more_text, keys or more_keys
            if text and keys:
                break
        return text, keys

    def _found(self, value: Any) -> tuple[bool, bool]:
        blob = _marshal(value)
        if blob is None:
            return True, True
        if self._encoded_pattern is not None:
            text = self._encoded_pattern.search(blob) is not None
        else:
            text = any(secret in blob for secret in self._encoded)
        return text, self._keys.in_bytes(blob, blob.lower())


def _marshal(value: Any) -> bytes | None:
    try:
        return marshal.dumps(value, _MARSHAL_VERSION)
    except (ValueError, TypeError, RecursionError):
        return None  # a type marshal does not know (or too deep): walk it


def _large(value: Any) -> bool:
    return isinstance(value, dict | list) and len(value) > _PART


def _children(value: dict[Any, Any] | list[Any]) -> Iterable[Any]:
    return value.values() if isinstance(value, dict) else value


def _pieces(value: Any, depth: int) -> Iterator[Any]:
    """Parts of ``value`` holding between them every key and string in it: ``value`` itself
    when it is small, else its keys and slices of its items (large ones split in turn)."""
    if depth >= _PART_DEPTH or not isinstance(value, dict | list):
        yield value
        return
    children = list(value.values()) if isinstance(value, dict) else value
    if len(children) <= _PART and not any(_large(c) for c in children):
        yield value
        return
    if isinstance(value, dict):
        yield list(value)  # the keys
    for start in range(0, len(children), _PART):
        part = children[start : start + _PART]
        if any(_large(c) for c in part):
            for child in part:
                yield from _pieces(child, depth + 1)
        else:
            yield part
