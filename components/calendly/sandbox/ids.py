"""Calendly-style identifiers: 16 upper-case base32 characters, reproducible for a seed."""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import random


class IdFactory:
    """Makes identifiers from a seeded generator so seed data is the same on every run."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng  # public: a state file saves and restores its position

    def new(self) -> str:
        """Return a fresh 16-character identifier (80 random bits)."""
        raw = self.rng.getrandbits(80).to_bytes(10, "big")
        return base64.b32encode(raw).decode("ascii")

    def new_uuid4(self) -> str:
        """Return an RFC 4122 style UUID (used where Calendly exposes real UUIDs)."""
        value = self.rng.getrandbits(128)
        h = f"{value:032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"
