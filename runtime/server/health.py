"""What one server knows of its own health: its Prometheus metrics, and whether its store can
take deliveries now."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram

if TYPE_CHECKING:
    from runtime.store import Store

log = structlog.get_logger("relay.server")

#: What a 503 tells the sender to wait before trying again (seconds).
RETRY_AFTER = 10


class Metrics:
    """Prometheus metrics of one server (its own registry: no global state)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.deliveries = Counter(
            "relay_webhook_deliveries",
            "Webhook deliveries by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.ingest = Histogram(
            "relay_webhook_ingest_seconds",
            "Time to verify and record a delivery",
            registry=self.registry,
        )
        # the children of the outcome label, resolved once (``labels()`` per delivery is not free)
        self.outcomes = {
            outcome: self.deliveries.labels(outcome)
            for outcome in (
                "too_large",
                "unknown",
                "rejected",
                "ignored",
                "duplicate",
                "accepted",
            )
        }


class StoreHealth:
    """Whether the store can take deliveries: its file is the one opened and its last write
    did not fail. A fault is logged when it starts and when it ends, not per request."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self.fault: str | None = None
        self._fault_at = 0.0

    def problem(self) -> str | None:
        """Why deliveries cannot be acknowledged now, or ``None``. A write fault counts for
        ``RETRY_AFTER`` seconds: then the next delivery finds out whether it is over."""
        gone = self._store.gone()
        if gone is not None:
            self.failed(gone)
            return gone
        if self.fault is not None and time.monotonic() - self._fault_at < RETRY_AFTER:
            return self.fault
        return None

    def failed(self, reason: str) -> None:
        """A write failed (or the file is gone) for ``reason``: logged once per fault."""
        if self.fault is None:
            log.error("store unavailable: deliveries are answered 503", reason=reason)
        self.fault = reason
        self._fault_at = time.monotonic()

    def worked(self) -> None:
        """A write worked: a fault, if any, is over."""
        if self.fault is not None and self._store.gone() is None:
            log.warning("store available again", was=self.fault)
            self.fault = None
