"""Calendly webhook signatures: ``Calendly-Webhook-Signature: t=<unix>,v1=<hex>``.

``v1`` is ``hex(HMAC-SHA256(signing key as UTF-8, f"{t}." + raw body))``. Verification runs
over the exact bytes received (never re-serialised JSON), compares in constant time and
refuses timestamps outside a tolerance so a captured delivery cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re

SIGNATURE_HEADER = "Calendly-Webhook-Signature"
#: Calendly's own example allows three minutes of clock skew and transit.
DEFAULT_TOLERANCE = 180
_HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP = re.compile(r"^[0-9]{1,12}$")
#: A header longer than this is not a Calendly signature (bounds parsing work per request).
_MAX_HEADER = 2048


class SignatureError(ValueError):
    """A delivery's signature is missing, malformed, stale or wrong; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def compute(key: str, timestamp: int, body: bytes) -> str:
    """The hex ``v1`` digest of ``body`` signed at ``timestamp`` with ``key``."""
    message = f"{timestamp}.".encode() + body
    return hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sign(key: str, timestamp: int, body: bytes) -> str:
    """The full header value Calendly would send for ``body`` at ``timestamp``."""
    return f"t={timestamp},v1={compute(key, timestamp, body)}"


def parse(header: str) -> tuple[int, list[str]]:
    """``(t, [v1, ...])`` from a header value; several ``v1`` are allowed (key rotation)."""
    if len(header) > _MAX_HEADER:
        raise SignatureError("signature header is too long")
    timestamp: int | None = None
    digests: list[str] = []
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep:
            raise SignatureError("malformed signature header: expected t=...,v1=...")
        value = value.strip()
        if name == "t":
            if timestamp is not None or not _TIMESTAMP.match(value):
                raise SignatureError("malformed signature header: bad timestamp")
            timestamp = int(value)
        elif name == "v1":
            digests.append(value.lower())
        # other schemes (v0, future versions) are ignored, as Calendly documents
    if timestamp is None:
        raise SignatureError("malformed signature header: no timestamp")
    if not digests:
        raise SignatureError("malformed signature header: no v1 signature")
    return timestamp, digests


def verify(
    key: str,
    header: str | None,
    body: bytes,
    *,
    now: float,
    tolerance: float = DEFAULT_TOLERANCE,
) -> int:
    """Check ``header`` against ``body``; return the signed timestamp or raise ``SignatureError``.

    The digest is checked before the timestamp so a forged header learns nothing about the
    clock; every candidate is compared in constant time.
    """
    if not key:
        raise SignatureError("no signing key configured: cannot verify deliveries")
    if header is None or not header.strip():
        raise SignatureError(f"missing {SIGNATURE_HEADER} header")
    timestamp, digests = parse(header)
    expected = compute(key, timestamp, body)
    matched = False
    for digest in digests:
        # compare_digest needs ASCII strings of any length; refuse junk before comparing
        if _HEX_DIGEST.match(digest) and hmac.compare_digest(digest, expected):
            matched = True
    if not matched:
        raise SignatureError("signature does not match the body")
    if not math.isfinite(now):
        raise SignatureError("no valid receive time to check the signature against: stale")
    if abs(now - timestamp) > tolerance:
        raise SignatureError(
            f"signature timestamp is {int(abs(now - timestamp))} s from now "
            f"(tolerance {tolerance:g} s): stale or replayed delivery"
        )
    return timestamp
