"""A Calendly-triggered flow and its stored sandbox connection, for service tests that deploy
against an in-process sandbox (redeploy, webhook URL sync)."""

from __future__ import annotations

from typing import Any

from components.calendly.sandbox import Sandbox
from runtime import Service, Token

HOOK_FLOW = """\
name: calendly hook
config:
  calendly: {type: connection, component: calendly, connection: calendlyOauth2Connection}
  organization: {type: string}
trigger:
  component: calendly
  trigger: calendlyTrigger
  inputs:
    connection: ${{ config.calendly }}
    eventNamesInput: [invitee.created]
    organization: ${{ config.organization }}
    scope: organization
steps:
  - id: seen
    action: relay.value
    inputs: {value: "${{ trigger.body.event }}"}
"""


async def sandbox_connection(relay: Service, sandbox: Sandbox, now: float) -> dict[str, Any]:
    """Store connection ``cal`` to ``sandbox`` (at ``http://calendly.test``) with a token
    issued at ``now``; the config of an instance of ``HOOK_FLOW`` using it."""
    fields = {
        "clientId": "sandbox-client-id",
        "clientSecret": "sandbox-client-secret",
        "useLiveServer": False,
        "sandboxUrl": "http://calendly.test",
    }
    await relay.store.save_connection("cal", "calendly", "calendlyOauth2Connection", fields)
    await relay.store.tokens.save("connection:cal", Token.from_response(sandbox.issue_token(), now))
    return {"calendly": {"use": "cal"}, "organization": sandbox.org_uri()}
