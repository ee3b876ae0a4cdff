"""The ``webhook:`` trigger kind: deliveries posted to the instance's URL, optionally signed.

The signing secret (one expression over ``secret: true`` config variables) is checked when the
flow loads, evaluated at deploy into the instance's encrypted deploy state, and each delivery's
``X-Relay-Signature`` is verified against it (see ``runtime.plain_webhooks``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from attrs import frozen

from runtime.dedupe import DEDUPE_FORM, expression_key, header_key
from runtime.errors import WebhookRejected
from runtime.expressions import Template, has_template
from runtime.plain_webhooks import (
    DEPLOY_STATE_KEY,
    render_secret,
    secret_problem,
    stored_secret,
    verify_signature,
)
from runtime.trigger_kinds.base import (
    BASE_KEPT_HEADERS,
    DeliveryHost,
    FlowTrigger,
    TriggerParsing,
    parse_dedupe,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from runtime.declarations import WebhookRequest
    from runtime.flows.model import Flow
    from runtime.flows.yamlsource import Path
    from runtime.redaction import Redactor
    from runtime.store.records import Instance

#: A plain webhook also keeps relay's own signature header and the sender's idempotency key.
_KEPT = BASE_KEPT_HEADERS | {"x-relay-signature", "idempotency-key"}


@frozen
class WebhookTrigger(FlowTrigger):
    """``trigger: {webhook: {secret: ${{ config.hookSecret }}}}`` (``secret`` optional): the
    payload is ``{headers, body}``, the body parsed as JSON when it is JSON.

    A delivery's identity is the flow's ``dedupe:`` expression, else the sender's
    ``Idempotency-Key`` header; without either every delivery runs (a plain webhook's sender
    may post the same bytes twice meaning two events)."""

    kind: ClassVar[str] = "webhook"
    key: ClassVar[str] = "webhook"
    receives_webhooks: ClassVar[bool] = True
    form: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "required": ["webhook"],
        "additionalProperties": False,
        "properties": {
            "webhook": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "secret": {
                        "type": "string",
                        "description": "The signing secret, as one expression over `secret: "
                        "true` config variables, e.g. ${{ config.hookSecret }}; evaluated at "
                        "deploy, never written in the flow",
                    }
                },
            },
            "dedupe": DEDUPE_FORM,
        },
    }

    #: The signing secret's expression (never the secret itself); ``None``: unsigned.
    secret: Template | None = None
    #: The flow's ``dedupe:`` expression, if it has one.
    dedupe: Template | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any], parsing: TriggerParsing) -> WebhookTrigger:
        """The secret: one expression over ``secret: true`` config variables."""
        settings = raw["webhook"]
        dedupe = parse_dedupe(raw, parsing)
        if "secret" not in settings:
            return cls(dedupe=dedupe)
        path: Path = ("trigger", "webhook", "secret")
        written = settings["secret"]
        template = parsing.template(written, path) if has_template(written) else None
        if template is None and has_template(written):
            return cls(dedupe=dedupe)  # its expression problem is reported already
        problem = secret_problem(template, parsing.config)
        if problem is not None:
            parsing.error(path, problem)
        return cls(secret=template, dedupe=dedupe)

    def dedupe_key(self, request: WebhookRequest, payload: Mapping[str, Any]) -> str | None:
        """The ``dedupe:`` expression's value, else the ``Idempotency-Key`` header, else none
        (every delivery runs)."""
        if self.dedupe is not None:
            return expression_key(self.dedupe, payload)
        return header_key(request.headers)

    def kept_headers(self) -> frozenset[str]:
        """relay's own headers and ``x-relay-signature``."""
        return _KEPT

    async def shape(
        self, host: DeliveryHost, instance: Instance, flow: Flow, request: WebhookRequest
    ) -> dict[str, Any]:
        """Verify the signature (when signed); the payload is the kept headers and the body."""
        if self.secret is not None:
            secret = stored_secret(instance.deploy_state)
            if secret is None:  # deployed before secrets were evaluated at deploy
                raise WebhookRejected("the instance has no webhook secret: redeploy it", 401)
            verify_signature(secret, request)
        shown = {k.lower(): v for k, v in request.headers.items() if k.lower() in _KEPT}
        return {"headers": shown, "body": _parse_body(request.body)}

    def initial_deploy_state(
        self, flow: Flow, config: Mapping[str, Any], redactor: Redactor | None
    ) -> dict[str, Any] | None:
        """The secret, evaluated once: the flow text (copied into every execution) holds
        just its expression."""
        if self.secret is None:
            return None
        return {DEPLOY_STATE_KEY: render_secret(self.secret, flow, config, redactor)}


def _parse_body(body: bytes) -> Any:
    """JSON when the body is JSON a flow can hold, else its text (nothing is dropped)."""
    try:
        return json.loads(body)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python recurses
        return body.decode("utf-8", "replace")
