"""Plain ``webhook:`` triggers: where their signing secret comes from, and how it is checked.

A plain webhook's ``secret`` is never written in the flow: it is one ``${{ }}`` expression over
``secret: true`` config variables (``secret: ${{ config.hookSecret }}``). The ``webhook`` trigger
kind (``runtime.trigger_kinds.webhook``) checks that shape when it parses (``secret_problem``),
evaluates it once at deploy against the instance's config (``render_secret``) and keeps the
value in the instance's encrypted deploy state under ``DEPLOY_STATE_KEY``; each delivery is
verified against that value (``verify_signature``). The flow text, which every execution
copies, so holds only the expression.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from runtime.errors import ConfigurationError, ExpressionError, WebhookRejected

if TYPE_CHECKING:
    from runtime.declarations import WebhookRequest
    from runtime.expressions import Template
    from runtime.flows.model import Flow
    from runtime.redaction import Redactor

#: Where deploy keeps the evaluated secret in the instance's (encrypted) deploy state. A name
#: ``runtime.redaction.SECRET_KEYS`` matches, so every process that reads it scrubs it too.
DEPLOY_STATE_KEY = "secret"

#: Where the secret is written in a flow, for messages.
PLACE = "trigger.webhook.secret"

_CONFIG_NAME = re.compile(r"(?<![\w.])config\s*\.\s*([A-Za-z_]\w*)")

_HOW = (
    "write it as `secret: ${{ config.hookSecret }}` and declare "
    "`hookSecret: {type: string, secret: true}` under `config:`"
)


def secret_problem(template: Template | None, config: Mapping[str, Any]) -> str | None:
    """Why a flow's webhook ``secret`` is not usable, or ``None``.

    ``template`` is the compiled secret (``None``: written as plain text); ``config`` the flow's
    raw ``config:`` mapping. Messages never repeat the written value (it may be a real secret).
    """
    if template is None:
        return "a webhook secret must not be written in the flow: " + _HOW
    if not template.whole or not template.config_only:
        return "a webhook secret must be one ${{ expression }} over config variables: " + _HOW
    names = sorted({n for e in template.expressions for n in _CONFIG_NAME.findall(e.source)})
    if not names:
        return "a webhook secret must come from a `secret: true` config variable: " + _HOW
    for name in names:
        spec = config.get(name)
        if not isinstance(spec, Mapping):
            continue  # an unknown variable: reported as such
        if spec.get("secret") is not True:
            return (
                f"config variable {name!r} holds a webhook secret, so it must be declared with "
                f"`secret: true` (config.{name}: {{type: string, secret: true}})"
            )
        if "default" in spec:
            return (
                f"config variable {name!r} holds a webhook secret, so it must not have a "
                "`default:` (that writes the secret in the flow): give it in each instance's "
                "config"
            )
    return None


def evaluate_secret(
    flow: Flow, values: Mapping[str, Any], *, redactor: Redactor | None = None
) -> str | None:
    """The signing secret of ``flow``'s plain webhook trigger with config ``values`` (defaults
    applied), or ``None`` when deliveries are not signed; ``redactor`` learns it at once.
    Raises ``ConfigurationError`` as deploy would."""
    return stored_secret(flow.trigger.initial_deploy_state(flow, values, redactor) or {})


def render_secret(
    template: Template, flow: Flow, values: Mapping[str, Any], redactor: Redactor | None
) -> str:
    """``template`` (a webhook secret) evaluated with config ``values`` (defaults applied);
    ``redactor`` learns the value before anything can show it."""
    scope = {v.name: values.get(v.name, v.default) for v in flow.config}
    try:
        value = template.render({"config": scope})
    except ExpressionError as exc:
        raise ConfigurationError(f"{PLACE}: cannot be evaluated: {exc}") from None
    if not isinstance(value, str) or not value:
        raise ConfigurationError(
            f"{PLACE}: evaluates to {'an empty string' if value == '' else 'no text'}; "
            "give its config variable a value"
        )
    if redactor is not None:
        redactor.add([value])
    return value


def stored_secret(deploy_state: Mapping[str, Any]) -> str | None:
    """The secret deploy evaluated, from an instance's deploy state."""
    value = deploy_state.get(DEPLOY_STATE_KEY)
    return value if isinstance(value, str) and value else None


def verify_signature(secret: str, request: WebhookRequest) -> None:
    """``X-Relay-Signature: sha256=<hex HMAC-SHA256 of the raw body>``, compared in constant
    time; raise ``WebhookRejected`` (401) otherwise."""
    given = next((v for k, v in request.headers.items() if k.lower() == "x-relay-signature"), "")
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    if not given:
        raise WebhookRejected("missing X-Relay-Signature", 401)
    if not hmac.compare_digest(given.encode(), expected.encode()):
        raise WebhookRejected("bad signature", 401)
