"""Webhook intake: a delivery verified against its instance, shaped into a trigger payload and
recorded durably with its execution (which it does not run).

How a delivery is verified and shaped, and which of its headers are kept, is the instance's
trigger kind's (``FlowTrigger.shape``, ``FlowTrigger.kept_headers``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import structlog
from attrs import frozen

from runtime.dedupe import dedupe_window_from_env
from runtime.errors import ConfigurationError, FlowError, NotFound, WebhookRejected
from runtime.instance_config import resolve_instance_config
from runtime.rejections import RejectionLog

if TYPE_CHECKING:
    from runtime.api import Runtime
    from runtime.connections import ConnectionHandle
    from runtime.declarations import WebhookRequest
    from runtime.flows import Flow
    from runtime.instance_cache import InstanceCache
    from runtime.store import Instance, Store

log = structlog.get_logger("relay.service")


@frozen
class WebhookOutcome:
    """How a delivery was answered: ``status`` and, when accepted, its execution."""

    status: int
    execution_id: str | None = None
    duplicate: bool = False
    reason: str = ""
    instance: str | None = None
    #: recorded for a paused instance (as this process last read it): held, not to be run yet
    held: bool = False


class WebhookIntake:
    """Receives deliveries for the instances of one store.

    An accepted delivery is recorded with its identity (``FlowTrigger.dedupe_key``): one
    whose identity was seen within ``dedupe_window`` seconds (``RELAY_DEDUPE_WINDOW``) is a
    duplicate, answered with the first one's execution and counted on it. A rejected or
    ignored delivery to a known instance is counted in ``rejections`` (never its body).
    """

    def __init__(
        self,
        runtime: Runtime,
        store: Store,
        instances: InstanceCache,
        *,
        dedupe_window: float | None = None,
    ) -> None:
        self._runtime = runtime
        self._store = store
        self._instances = instances
        #: seconds a delivery's identity is remembered
        self.dedupe_window = dedupe_window_from_env() if dedupe_window is None else dedupe_window
        #: rejected and ignored deliveries, counted until flushed to the store
        self.rejections = RejectionLog(store)

    def reject(self, token: str, status: int, reason: str, at: float) -> None:
        """Count a delivery to ``token`` refused before it reached the intake (e.g. too
        large), if the token is a cached instance's (an unknown one is counted nowhere here:
        the server's metrics count it)."""
        instance = self._instances.peek_token(token)
        if instance is not None:
            self.rejections.add(instance.name, status, reason, at)

    @property
    def runtime(self) -> Runtime:
        """The runtime deliveries are shaped with."""
        return self._runtime

    async def connections(
        self, instance: Instance, flow: Flow
    ) -> tuple[dict[str, Any], dict[str, ConnectionHandle]]:
        """The instance's config scope and connection handles, for its trigger's inputs."""
        return await resolve_instance_config(self._runtime, instance, flow)

    async def receive_webhook(self, token: str, request: WebhookRequest) -> WebhookOutcome:
        """Verify a delivery and record it (durably) with its execution; does not run it."""
        instance = await self._instances.by_token(token)
        if instance is None:
            return WebhookOutcome(404, reason="unknown webhook")
        try:
            try:
                payload = await self._shape(instance, self._instances.flow_of(instance), request)
            except WebhookRejected:
                # the cached instance may predate a change of its secrets: check the stored one,
                # unless it was read a moment ago (each forged delivery would cost a read)
                if not self._instances.recheck_due(token):
                    raise
                stored = await self._instances.by_token(token, fresh=True)
                if stored is None:
                    return WebhookOutcome(404, reason="unknown webhook")
                instance = stored
                payload = await self._shape(instance, self._instances.flow_of(instance), request)
        except WebhookRejected as exc:
            log.warning("webhook rejected", instance=instance.name, reason=exc.reason)
            return self._rejected(instance, exc.status, exc.reason, request)
        except FlowError as exc:  # stored by an older relay: e.g. a literal webhook secret
            first = str(exc.problems[0]) if exc.problems else str(exc)
            log.error(
                "webhook refused: the stored flow no longer loads; redeploy the instance",
                instance=instance.name,
                problem=first,
            )
            reason = "the instance's flow no longer loads: redeploy it"
            return self._rejected(instance, 503, reason, request)
        flow = self._instances.flow_of(instance)
        if payload is None:
            return self._rejected(instance, 200, "ignored: event not selected", request)
        try:
            dedupe = flow.trigger.dedupe_key(request, payload)
        except WebhookRejected as exc:
            return self._rejected(instance, exc.status, exc.reason, request)
        kept = flow.trigger.kept_headers()
        headers = {k: v for k, v in request.headers.items() if k.lower() in kept}
        try:
            execution_id, new = await self._store.record_delivery(
                instance.name,
                dedupe,
                headers,
                request.body,
                request.received_at,
                payload,
                webhook_token=token,
                dedupe_window=self.dedupe_window,
            )
        # undeployed by another process since it was cached (NotFound; ConfigurationError from
        # a store that predates NotFound)
        except (NotFound, ConfigurationError):
            self._instances.forget(instance.name)
            return WebhookOutcome(404, reason="unknown webhook")
        return WebhookOutcome(
            202, execution_id, duplicate=not new, instance=instance.name, held=instance.paused
        )

    def _rejected(
        self, instance: Instance, status: int, reason: str, request: WebhookRequest
    ) -> WebhookOutcome:
        # a reason is the trigger's words, kept in the store: scrubbed of any secret it holds
        kept = self._runtime.redactor.text(reason)
        self.rejections.add(instance.name, status, kept, request.received_at)
        return WebhookOutcome(status, reason=reason, instance=instance.name)

    async def _shape(
        self, instance: Instance, flow: Flow, request: WebhookRequest
    ) -> dict[str, Any] | None:
        return await flow.trigger.shape(self, instance, flow, request)
