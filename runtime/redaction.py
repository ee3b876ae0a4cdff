"""Keeping secrets out of records, logs and output.

Two layers: values of secret-typed inputs are replaced by what they are (``[password]``,
``[connection NAME]``), and every known secret string (passwords, tokens) is scrubbed from any
text that leaves the engine, wherever it appears.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from runtime._redaction_fast import CleanCheck

if TYPE_CHECKING:
    from collections.abc import Iterable

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


class Redactor:
    """Scrubs a set of known secret strings (and secret-named keys) from nested values."""

    def __init__(self, secrets: Iterable[str] = (), *, fast: bool = True) -> None:
        """``fast=False``: every value is walked (the plain path the clean-value check is
        checked against), so ``value`` always returns a copy."""
        self._fast = fast
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self._check: CleanCheck | None = CleanCheck(_SECRET_KEY_NAMES, ()) if fast else None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Scrub these strings too from now on (empty and short ones are ignored)."""
        fresh = {s for s in secrets if s and len(s) >= 6} - self._secrets
        if fresh:
            self._secrets |= fresh
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))
            if self._fast:
                self._check = CleanCheck(_SECRET_KEY_NAMES, ordered)

    @property
    def secrets(self) -> frozenset[str]:
        """The strings scrubbed."""
        return frozenset(self._secrets)

    def text(self, value: str) -> str:
        """``value`` with every known secret in it replaced by ``REDACTED``."""
        return self._pattern.sub(REDACTED, value) if self._pattern else value

    def value(self, value: Any) -> Any:
        """``value`` with secrets scrubbed: a scrubbed copy, or ``value`` itself when nothing in
        it needs scrubbing (then tuples inside it stay tuples; a copy would hold lists)."""
        if isinstance(value, str):
            return self.text(value)
        if self._check is not None and isinstance(value, dict | list):
            text, keys = self._check.rules(value)
            return self._walk(value, text, keys) if text or keys else value
        return self._walk(value, True, True)

    def _walk(self, value: Any, text: bool, keys: bool) -> Any:
        """A scrubbed copy of ``value``, applying the rules named (a rule that cannot change
        anything is skipped: the copy is the same either way)."""
        if isinstance(value, str):
            return self.text(value) if text else value
        if isinstance(value, dict):
            if keys:
                # only text is secret: a flag named "secret" (Calendly's hidden event
                # types) is data, not a credential
                return {
                    k: REDACTED
                    if isinstance(k, str) and SECRET_KEYS.match(k) and isinstance(v, str) and v
                    else self._walk(v, text, keys)
                    for k, v in value.items()
                }
            return {k: self._walk(v, text, keys) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self._walk(v, text, keys) for v in value]
        return value
