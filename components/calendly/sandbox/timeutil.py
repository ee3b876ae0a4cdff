"""Calendly's timestamp format: ISO 8601 in UTC with microseconds and a ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def iso(ts: float) -> str:
    """Format epoch seconds as ``2019-08-24T14:15:22.123456Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(value: str) -> float | None:
    """Parse an ISO 8601 date-time into epoch seconds; ``None`` when it is not one.

    A value without an offset is taken as UTC, which is what Calendly documents for its filters.
    """
    text = value.strip()
    if len(text) < 10 or "T" not in text:
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return parsed.timestamp()
    except (OverflowError, OSError, ValueError):
        return None


def date_str(ts: float) -> str:
    """Format epoch seconds as a ``YYYY-MM-DD`` UTC date."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")
