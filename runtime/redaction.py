"""Keeping secrets out of records, logs and output.

Two layers: values of secret-typed inputs are replaced by what they are (``[password]``,
``[connection NAME]``), and every known secret string (passwords, tokens) is scrubbed from any
text that leaves the engine, wherever it appears.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

REDACTED = "[redacted]"
#: Keys whose values are secret wherever they appear.
SECRET_KEYS = re.compile(
    r"(?i)^(authorization|access_token|refresh_token|client_secret|clientsecret|password|"
    r"signing_key|signingkey|secret|api_key|apikey|token|code_verifier|cookie|set-cookie)$"
)


class Redactor:
    """Scrubs a set of known secret strings (and secret-named keys) from nested values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        fresh = {s for s in secrets if s and len(s) >= 6} - self._secrets
        if fresh:
            self._secrets |= fresh
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(self._secrets)

    def text(self, value: str) -> str:
        return self._pattern.sub(REDACTED, value) if self._pattern else value

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                k: REDACTED if isinstance(k, str) and SECRET_KEYS.match(k) and v else self.value(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.value(v) for v in value]
        return value
