"""Calendly sandbox: an embedded, stateful fake of Calendly API v2, OAuth and webhooks.

Use it in-process (``httpx.ASGITransport(app=Sandbox(cfg).app)``) or over HTTP with
``relay sandbox``. Nothing in it reaches the network except webhook deliveries to the URLs
subscribers register.
"""

from __future__ import annotations

from .config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxConfig
from .sandbox import Sandbox
from .webhooks import SIGNATURE_HEADER, Delivery, sign

__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "SIGNATURE_HEADER",
    "Delivery",
    "Sandbox",
    "SandboxConfig",
    "sign",
]
