"""Webhook intake: a delivery verified against its instance, shaped into a trigger payload and
recorded durably with its execution (which it does not run)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import structlog
from attrs import frozen

from runtime.api import Runtime
from runtime.declarations import WebhookRequest
from runtime.errors import ConfigurationError, FlowError, NotFound, WebhookRejected
from runtime.flows import Flow
from runtime.instance_cache import InstanceCache
from runtime.instance_config import resolve_instance_config, trigger_inputs
from runtime.plain_webhooks import stored_secret, verify_signature
from runtime.store import Instance, Store

log = structlog.get_logger("relay.service")

#: Headers every delivery record keeps (never credentials); a trigger adds what it declares.
_KEPT_HEADERS = frozenset({"content-type", "user-agent"})
#: A plain ``webhook:`` trigger also keeps relay's own signature header.
_PLAIN_WEBHOOK_HEADERS = _KEPT_HEADERS | {"x-relay-signature"}


@frozen
class WebhookOutcome:
    """How a delivery was answered: ``status`` and, when accepted, its execution."""

    status: int
    execution_id: str | None = None
    duplicate: bool = False
    reason: str = ""
    instance: str | None = None


class WebhookIntake:
    """Receives deliveries for the instances of one store."""

    def __init__(self, runtime: Runtime, store: Store, instances: InstanceCache) -> None:
        self._runtime = runtime
        self._store = store
        self._instances = instances

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
            return WebhookOutcome(exc.status, reason=exc.reason)
        except FlowError as exc:  # stored by an older relay: e.g. a literal webhook secret
            first = str(exc.problems[0]) if exc.problems else str(exc)
            log.error(
                "webhook refused: the stored flow no longer loads; redeploy the instance",
                instance=instance.name,
                problem=first,
            )
            return WebhookOutcome(503, reason="the instance's flow no longer loads: redeploy it")
        if payload is None:
            return WebhookOutcome(200, reason="ignored: event not selected")
        kept = self._kept_headers(self._instances.flow_of(instance))
        headers = {k: v for k, v in request.headers.items() if k.lower() in kept}
        dedupe = hashlib.sha256(request.body).hexdigest()
        try:
            execution_id, new = await self._store.record_delivery(
                instance.name,
                dedupe,
                headers,
                request.body,
                request.received_at,
                payload,
                webhook_token=token,
            )
        # undeployed by another process since it was cached (NotFound; ConfigurationError from
        # a store that predates NotFound)
        except (NotFound, ConfigurationError):
            self._instances.forget(instance.name)
            return WebhookOutcome(404, reason="unknown webhook")
        return WebhookOutcome(202, execution_id, duplicate=not new, instance=instance.name)

    async def _shape(
        self, instance: Instance, flow: Flow, request: WebhookRequest
    ) -> dict[str, Any] | None:
        trigger = flow.trigger
        if trigger.kind == "component":
            resolved = await resolve_instance_config(self._runtime, instance, flow)
            event = await self._runtime.webhook_event(
                f"{trigger.component}.{trigger.trigger}",
                trigger_inputs(flow, resolved),
                request,
                deploy_state=instance.deploy_state,
            )
            if event is None:
                return None
            return {**dict(event.payload), "branch": event.branch}
        if trigger.kind == "webhook":
            if trigger.secret is not None:
                secret = stored_secret(instance.deploy_state)
                if secret is None:  # deployed before secrets were evaluated at deploy
                    raise WebhookRejected("the instance has no webhook secret: redeploy it", 401)
                verify_signature(secret, request)
            shown = _safe_headers(request.headers, _PLAIN_WEBHOOK_HEADERS)
            return {"headers": shown, "body": _parse_body(request.body)}
        raise WebhookRejected("this flow is not triggered by webhooks", status=405)

    def _kept_headers(self, flow: Flow) -> frozenset[str]:
        """The request headers a delivery to ``flow`` keeps: relay's own plus its trigger's."""
        trigger = flow.trigger
        if trigger.kind == "webhook":
            return _PLAIN_WEBHOOK_HEADERS
        if trigger.kind == "component" and trigger.component and trigger.trigger:
            registered = self._runtime.registry.require(trigger.component)
            declared = registered.component.trigger(trigger.trigger)
            if declared is not None and declared.kept_headers:
                return _KEPT_HEADERS.union(declared.kept_headers)
        return _KEPT_HEADERS


def _safe_headers(headers: Mapping[str, str], kept: frozenset[str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() in kept}


def _parse_body(body: bytes) -> Any:
    """JSON when the body is JSON a flow can hold, else its text (nothing is dropped)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python recurses
        return body.decode("utf-8", "replace")
