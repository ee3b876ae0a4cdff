"""Keeping secrets out of records, logs and output.

Two layers: values of secret-typed inputs are replaced by what they are (``[password]``,
``[connection NAME]``), and every known secret string (passwords, tokens) is scrubbed from any
text that leaves the engine, wherever it appears.
"""

from __future__ import annotations

import marshal
import re
from collections.abc import Iterable, Iterator
from typing import Any

REDACTED = "[redacted]"
_SECRET_KEY_NAMES = (
    "authorization",
    "access_token",
    "refresh_token",
    "client_secret",
    "clientsecret",
    "password",
    "signing_key",
    "signingkey",
    "secret",
    "api_key",
    "apikey",
    "token",
    "code_verifier",
    "cookie",
    "set-cookie",
)
#: Keys whose values are secret wherever they appear.
SECRET_KEYS = re.compile(r"(?i)^(" + "|".join(_SECRET_KEY_NAMES) + r")$")

# --- the clean-value check ---------------------------------------------------------------------
#
# Walking a value in Python to scrub it costs ~0.27 us per node (a 10,000-event listing: 0.23 s
# and a full copy), nearly always to find nothing. ``marshal`` serialises the same value
# in C (~12 ms for that listing) and writes every ``str`` in it (keys and values) verbatim as
# UTF-8, so one byte search per secret tells whether any string contains a secret. Keys: an
# ASCII key is written as a "short ASCII" string, its length in the byte before it, so a key
# SECRET_KEYS matches shows up in the lowercased bytes as ``len + name`` (or ``len + name +
# "\n"``: ``$`` also matches before a final newline). A non-ASCII key can only match if it
# holds one of the four characters that ``(?i)`` equates with an ASCII letter of the names;
# where those occur, the bytes around them are searched for the names spelt with them. Every
# test errs towards "not clean" (then the value is walked as before); a clean value needs no
# scrubbing and is returned as it is (that listing: ~45 ms, no copy).

_MARSHAL_VERSION = 4  # short ASCII strings (1-byte length) exist from version 4 on


def _key_groups() -> tuple[tuple[bytes, tuple[bytes, ...]], ...]:
    """(a substring shared by some names, the byte marks of those names): one search of the
    lowercased bytes for the substring rules out all of them (usually nothing is found)."""
    shared = ("token", "secret", "signing", "cookie")
    groups: dict[str, list[bytes]] = {}
    for name in _SECRET_KEY_NAMES:
        sub = next((part for part in shared if part in name), name)
        for text in (name, name + "\n"):
            groups.setdefault(sub, []).append(bytes([len(text)]) + text.encode("ascii"))
    return tuple((sub.encode("ascii"), tuple(marks)) for sub, marks in groups.items())


_KEY_GROUPS = _key_groups()
#: Non-ASCII characters that ``(?i)`` matches to ASCII letters of the names: U+0130 and U+0131
#: (i), U+017F (long s), U+212A (Kelvin sign, k).
_CASE_TWINS = {"i": ("\u0130", "\u0131"), "s": ("\u017f",), "k": ("\u212a",)}


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


#: A name written with twins (or without), in the lowercased bytes: only searched for around
#: each twin found (other non-ASCII text and binary parts also produce their bytes).
_TWIN_NAMES = re.compile(b"|".join(_twin_pattern(n) for n in _SECRET_KEY_NAMES))
_TWIN_REACH = 3 * max(len(n) for n in _SECRET_KEY_NAMES)


def _twin_named(blob: bytes, lowered: bytes) -> bool:
    """Whether a secret key name spelt with a twin may be in ``blob``."""
    for lead, tails in _TWIN_TAILS.items():
        at = blob.find(lead)
        while at != -1:
            if any(blob.startswith(tail, at + 1) for tail in tails):
                window = lowered[max(0, at - _TWIN_REACH) : at + _TWIN_REACH]
                if _TWIN_NAMES.search(window):
                    return True
            at = blob.find(lead, at + 1)
    return False


def _marshal(value: Any) -> bytes | None:
    try:
        return marshal.dumps(value, _MARSHAL_VERSION)
    except (ValueError, TypeError, RecursionError):
        return None  # a type marshal does not know (or too deep): walk it


class Redactor:
    """Scrubs a set of known secret strings (and secret-named keys) from nested values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._encoded: tuple[bytes, ...] = ()
        self._encoded_pattern: re.Pattern[bytes] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        fresh = {s for s in secrets if s and len(s) >= 6} - self._secrets
        if fresh:
            self._secrets |= fresh
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
            self._encoded = tuple(s.encode("utf-8", "surrogatepass") for s in ordered)
            # a few byte searches beat one alternation; many secrets (a busy service) do not
            self._encoded_pattern = (
                re.compile(b"|".join(re.escape(e) for e in self._encoded))
                if len(self._encoded) > 4
                else None
            )

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def text(self, value: str) -> str:
        return self._pattern.sub(REDACTED, value) if self._pattern else value

    def value(self, value: Any) -> Any:
        """``value`` with secrets scrubbed: a scrubbed copy, or ``value`` itself when nothing in
        it needs scrubbing (then tuples inside it stay tuples; a copy would hold lists)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict | list):
            if len(value) <= _PART and not any(map(_large, _children(value))):
                found = self._found(value)  # a small value (most step outputs): one check
            else:
                found = 0
                for piece in _pieces(value, 0):
                    found |= self._found(piece)
                    if found == _ALL:
                        break
            return self._walk(value, found) if found else value
        return self._walk(value, _ALL)

    def _found(self, value: Any) -> int:
        """What a walk of ``value`` would scrub: ``_TEXT`` (a string may hold a secret) and/or
        ``_KEYS`` (a key may be secret-named). Errs towards finding something."""
        blob = _marshal(value)
        if blob is None:
            return _ALL
        found = 0
        if self._encoded_pattern is not None:
            if self._encoded_pattern.search(blob):
                found = _TEXT
        elif any(secret in blob for secret in self._encoded):
            found = _TEXT
        lowered = blob.lower()
        for sub, marks in _KEY_GROUPS:
            if sub in lowered and any(mark in lowered for mark in marks):
                return found | _KEYS
        return found | _KEYS if _twin_named(blob, lowered) else found

    def _walk(self, value: Any, found: int) -> Any:
        """A scrubbed copy of ``value``; ``found`` says which of the two rules can apply (a rule
        that cannot change anything is skipped: the copy is the same either way)."""
        if isinstance(value, str):
            return self.text(value) if found & _TEXT else value
        if isinstance(value, dict):
            if found & _KEYS:
                # only text is secret: a flag named "secret" (Calendly's hidden event
                # types) is data, not a credential
                return {
                    k: REDACTED
                    if isinstance(k, str) and SECRET_KEYS.match(k) and isinstance(v, str) and v
                    else self._walk(v, found)
                    for k, v in value.items()
                }
            return {k: self._walk(v, found) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._walk(v, found) for v in value]
        return value


_TEXT = 1
_KEYS = 2
_ALL = _TEXT | _KEYS
#: Large values are checked in parts of this many items, so the bytes of only one part are held
#: at a time (a 10,000-event listing: ~5 MB of marshal bytes, and as much again lowercased).
_PART = 256
#: How deep ``_pieces`` looks for large lists and dicts (``{"data": [...]}`` is depth 1).
_PART_DEPTH = 3


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
