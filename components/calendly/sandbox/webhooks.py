"""Webhook delivery: signed POSTs to matching subscriptions, retried with backoff until the
retry window closes, then the subscription is disabled — as Calendly does, but with short,
configurable delays and an injectable clock and sleep so tests can drive it.

This is the only sandbox module that talks HTTP outward, so it alone imports httpx.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
from typing import TYPE_CHECKING, Any

import attrs
import httpx

from .timeutil import iso

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from .config import SandboxConfig
    from .models import JSON, WebhookSubscription
    from .render import Renderer
    from .state import State

SIGNATURE_HEADER = "Calendly-Webhook-Signature"


def sign(key: str, timestamp: int, body: bytes) -> str:
    """The header value ``t=<unix>,v1=<hex hmac-sha256(key, f"{t}.{body}")>``."""
    message = f"{timestamp}.".encode() + body
    digest = hmac.new(key.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


@attrs.define
class Delivery:
    """One webhook event on its way to one subscription, with every attempt's status code
    (``None`` when the receiver could not be reached)."""

    id: int
    subscription: str
    subscription_uuid: str
    url: str
    event: str
    body: str
    created_at: float
    status_codes: list[int | None] = attrs.field(factory=list)
    signatures: list[str] = attrs.field(factory=list)
    status: str = "pending"

    @property
    def attempts(self) -> int:
        """How many POSTs were made."""
        return len(self.status_codes)

    def as_json(self) -> dict[str, Any]:
        """The record as JSON (control API)."""
        return {
            "id": self.id,
            "subscription": self.subscription,
            "url": self.url,
            "event": self.event,
            "status": self.status,
            "attempts": self.attempts,
            "status_codes": list(self.status_codes),
            "body": self.body,
            "created_at": iso(self.created_at),
        }


class WebhookDispatcher:
    """Matches events to subscriptions and runs deliveries as background asyncio tasks."""

    def __init__(
        self,
        *,
        state: State,
        render: Renderer,
        config: SandboxConfig,
        clock: Callable[[], float],
        sleep: Callable[[float], Awaitable[None]],
        signing_key: str,
        transport: httpx.AsyncBaseTransport | None = None,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.state = state
        self.render = render
        self.config = config
        self.clock = clock
        self.sleep = sleep
        self.signing_key = signing_key
        self.transport = transport
        self.deliveries: list[Delivery] = []
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self._unscheduled: list[Delivery] = []
        #: called after a delivery's outcome changes outside a request (the state file's save)
        self.on_change = on_change

    def restore(self, deliveries: list[Delivery], signing_key: str) -> None:
        """Take over deliveries from a state file; the ones a restart cut off carry on (as
        Calendly keeps retrying) once a loop runs them (:meth:`resume` or :meth:`drain`)."""
        self.deliveries = deliveries
        self.signing_key = signing_key
        self._ids = itertools.count(max((d.id for d in deliveries), default=0) + 1)
        self._unscheduled = [d for d in deliveries if d.status in ("pending", "retrying")]

    def resume(self) -> None:
        """Start the deliveries waiting for a running event loop (at server start)."""
        pending, self._unscheduled = self._unscheduled, []
        for delivery in pending:
            self._schedule(delivery)

    def _matches(
        self, sub: WebhookSubscription, name: str, org_uuid: str, hosts: list[str]
    ) -> bool:
        if sub.state != "active" or name not in sub.events or sub.org_uuid != org_uuid:
            return False
        return sub.scope == "organization" or sub.user_uuid in hosts

    def emit(
        self, name: str, org_uuid: str, hosts: list[str], creator: str | None, payload: JSON
    ) -> None:
        """Queue ``name`` for every matching active subscription."""
        now = self.clock()
        for sub in list(self.state.webhooks.values()):
            if not self._matches(sub, name, org_uuid, hosts):
                continue
            created_by = sub.creator_uuid or creator or self.state.owner_uuid
            envelope = {
                "event": name,
                "created_at": iso(now),
                "created_by": self.render.user_uri(created_by),
                "payload": payload,
            }
            delivery = Delivery(
                id=next(self._ids),
                subscription=self.render.page_url(f"webhook_subscriptions/{sub.uuid}"),
                subscription_uuid=sub.uuid,
                url=sub.url,
                event=name,
                body=json.dumps(envelope, separators=(",", ":")),
                created_at=now,
            )
            self.deliveries.append(delivery)
            self._schedule(delivery)

    def _schedule(self, delivery: Delivery) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            # Called from synchronous code (a test calling sb.book()): start on next drain.
            self._unscheduled.append(delivery)
            return
        task = loop.create_task(self._deliver(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def drain(self) -> None:
        """Wait until every delivery scheduled so far (and their retries) has finished."""
        while True:
            self.resume()
            loop = asyncio.get_running_loop()
            tasks = [t for t in self._tasks if t.get_loop() is loop]
            if not tasks and not self._unscheduled:
                return
            await asyncio.gather(*tasks, return_exceptions=True)

    def _backoff(self, failures: int) -> float:
        delay = self.config.webhook_backoff_initial * (
            self.config.webhook_backoff_factor ** (failures - 1)
        )
        return float(min(delay, self.config.webhook_backoff_max))

    async def _deliver(self, delivery: Delivery) -> None:
        async with httpx.AsyncClient(
            transport=self.transport, timeout=self.config.webhook_timeout
        ) as client:
            failures = 0
            while True:
                sub = self.state.webhooks.get(delivery.subscription_uuid)
                if sub is None or sub.state != "active":
                    delivery.status = "abandoned"
                    self.on_change()
                    return
                code = await self._attempt(client, delivery, sub)
                if code is not None and 200 <= code < 300:
                    delivery.status = "delivered"
                    sub.retry_started_at = None
                    self.on_change()
                    return
                failures += 1
                now = self.clock()
                if sub.retry_started_at is None:
                    sub.retry_started_at = now
                    sub.updated_at = now
                if now - sub.retry_started_at >= self.config.webhook_retry_window:
                    sub.state = "disabled"
                    sub.updated_at = now
                    delivery.status = "failed"
                    self.on_change()
                    return
                delivery.status = "retrying"
                self.on_change()
                await self.sleep(self._backoff(failures))

    async def _attempt(
        self, client: httpx.AsyncClient, delivery: Delivery, sub: WebhookSubscription
    ) -> int | None:
        body = delivery.body.encode()
        signature = sign(sub.signing_key or self.signing_key, int(self.clock()), body)
        delivery.signatures.append(signature)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: signature,
            "User-Agent": "Calendly-Sandbox-Webhooks/1.0",
        }
        try:
            response = await client.post(delivery.url, content=body, headers=headers)
        except Exception:  # any failure to deliver is a failed attempt
            delivery.status_codes.append(None)
            return None
        delivery.status_codes.append(response.status_code)
        return response.status_code
