"""Fault injection for reliability tests: a fraction of 429s or 500s and added latency."""

from __future__ import annotations

import random

import attrs


@attrs.define
class Faults:
    """Current fault settings; ``draw`` decides the fate of one API request."""

    error_rate_429: float = 0.0
    error_rate_5xx: float = 0.0
    latency: float = 0.0
    rng: random.Random = attrs.field(factory=random.Random)

    def configure(
        self,
        error_rate_429: float = 0.0,
        error_rate_5xx: float = 0.0,
        latency: float = 0.0,
        seed: int | None = None,
    ) -> None:
        """Replace the settings; rates are fractions in [0, 1], latency is seconds."""
        for name, rate in (("error_rate_429", error_rate_429), ("error_rate_5xx", error_rate_5xx)):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1")
        if latency < 0:
            raise ValueError("latency must be >= 0")
        self.error_rate_429 = error_rate_429
        self.error_rate_5xx = error_rate_5xx
        self.latency = latency
        self.rng = random.Random(seed)

    def draw(self) -> int | None:
        """429, 500 or ``None`` (no fault) for the next request."""
        if not (self.error_rate_429 or self.error_rate_5xx):
            return None
        roll = self.rng.random()
        if roll < self.error_rate_429:
            return 429
        if roll < self.error_rate_429 + self.error_rate_5xx:
            return 500
        return None

    def summary(self) -> dict[str, float]:
        """The settings as JSON."""
        return {
            "error_rate_429": self.error_rate_429,
            "error_rate_5xx": self.error_rate_5xx,
            "latency": self.latency,
        }
