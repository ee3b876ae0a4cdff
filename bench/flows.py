"""Flows the benchmarks generate (YAML text), and the matching baseline request lists."""

from __future__ import annotations

from typing import Any

CONNECTION_CONFIG = """\
config:
  calendly: {type: connection, component: calendly, connection: calendlyPersonalAccessToken}
"""


def connection_values(info: dict[str, Any]) -> dict[str, Any]:
    """Config values for the flows: a personal access token on the loopback sandbox."""
    return {
        "calendly": {
            "apiKey": info["token"],
            "useLiveServer": False,
            "sandboxUrl": info["base_url"],
        }
    }


def ten_gets(info: dict[str, Any]) -> tuple[str, list[str]]:
    """A 10-step flow of Calendly GET actions, and the same 10 request paths for the baseline.

    Ids are literal in the flow (as a flow author would paste them), except step 2, which uses
    step 1's output the way flows chain steps (same request either way)."""
    steps = [
        ("me", "getCurrentUser", {}, "/users/me"),
        (
            "user",
            "getUser",
            {"uuid": "${{ steps.me.data.resource.uri }}"},
            f"/users/{info['owner']}",
        ),
        ("event", "getEvent", {"uuid": info["event"]}, f"/scheduled_events/{info['event']}"),
        (
            "invitee",
            "getEventInvitee",
            {"eventUuid": info["event"], "inviteeUuid": info["invitee"]},
            f"/scheduled_events/{info['event']}/invitees/{info['invitee']}",
        ),
        (
            "eventType",
            "getEventType",
            {"uuid": info["event_type"]},
            f"/event_types/{info['event_type']}",
        ),
        (
            "membership",
            "getOrganizationMembership",
            {"uuid": info["membership"]},
            f"/organization_memberships/{info['membership']}",
        ),
        (
            "schedule",
            "getUserAvailabilitySchedule",
            {"uuid": info["schedule"]},
            f"/user_availability_schedules/{info['schedule']}",
        ),
        (
            "form",
            "getRoutingForm",
            {"uuid": info["routing_form"]},
            f"/routing_forms/{info['routing_form']}",
        ),
        (
            "event2",
            "getEvent",
            {"uuid": info["events"][1]},
            f"/scheduled_events/{info['events'][1]}",
        ),
        (
            "eventType2",
            "getEventType",
            {"uuid": info["event_types"][1]},
            f"/event_types/{info['event_types'][1]}",
        ),
    ]
    lines = ["name: bench ten gets", CONNECTION_CONFIG.rstrip(), "steps:"]
    for step_id, action, inputs, _ in steps:
        lines += [f"  - id: {step_id}", f"    action: calendly.{action}", "    inputs:"]
        lines.append("      connection: ${{ config.calendly }}")
        lines += [f'      {key}: "{value}"' for key, value in inputs.items()]
    return "\n".join(lines) + "\n", [path for *_, path in steps]


def list_events(org_uri: str) -> str:
    """One step: every event of the organization (listEvents follows every page)."""
    return (
        "name: bench list events\n"
        + CONNECTION_CONFIG
        + "steps:\n"
        + "  - id: events\n"
        + "    action: calendly.listEvents\n"
        + "    inputs:\n"
        + "      connection: ${{ config.calendly }}\n"
        + f"      organization: {org_uri}\n"
    )


def many_steps(count: int) -> str:
    """A ``count``-step flow mixing the shapes authors write: Calendly actions with
    expressions, built-in actions, a branch and a loop every tenth step."""
    lines = [
        f"name: bench {count} steps",
        "config:",
        "  calendly: {type: connection, component: calendly, connection: calendlyOauth2Connection}",
        "  organization: {type: string}",
        "  hookSecret: {type: string, secret: true}",
        "trigger:",
        '  webhook: {secret: "${{ config.hookSecret }}"}',
        "steps:",
    ]
    for i in range(count):
        kind = i % 10
        sid = f"s{i}"
        prev = f"s{i - 1}" if i else None
        if kind == 0 or prev is None:
            lines += [
                f"  - id: {sid}",
                "    action: calendly.getCurrentUser",
                "    inputs:",
                "      connection: ${{ config.calendly }}",
            ]
        elif kind in (1, 5):
            lines += [
                f"  - id: {sid}",
                "    action: calendly.getEvent",
                "    inputs:",
                "      connection: ${{ config.calendly }}",
                "      uuid: ${{ trigger.body.payload.scheduled_event.uri }}",
                "    retry: {attempts: 3, backoff: exponential, initial: 1s, max: 10s}",
            ]
        elif kind in (2, 6):
            lines += [
                f"  - id: {sid}",
                "    action: calendly.listEvents",
                "    inputs:",
                "      connection: ${{ config.calendly }}",
                "      organization: ${{ config.organization }}",
                "      sort: start_time:desc",
                "      limit: 10",
            ]
        elif kind == 3:
            lines += [
                f"  - id: {sid}",
                "    branch:",
                "      - name: canceled",
                "        when: ${{ trigger.body.event == 'invitee.canceled' }}",
                "        steps:",
                f"          - id: {sid}a",
                "            action: relay.value",
                "            inputs: {value: \"${{ 'canceled ' + string(trigger.body.n) }}\"}",
                "    else:",
                f"      - id: {sid}b",
                "        action: relay.setState",
                f'        inputs: {{scope: flow, key: k{i}, value: "${{{{ trigger.body }}}}"}}',
            ]
        elif kind == 4:
            lines += [
                f"  - id: {sid}",
                "    for_each: ${{ trigger.body.items }}",
                "    steps:",
                f"      - id: {sid}i",
                "        action: relay.value",
                '        inputs: {value: {item: "${{ item }}", index: "${{ index }}"}}',
            ]
        elif kind == 7:
            lines += [
                f"  - id: {sid}",
                "    action: calendly.getEventType",
                "    on_error: continue",
                "    inputs:",
                "      connection: ${{ config.calendly }}",
                f"      uuid: ${{{{ steps.s{i - 6}.data.resource.event_type }}}}",
            ]
        elif kind == 8:
            lines += [
                f"  - id: {sid}",
                "    action: relay.value",
                f"    when: ${{{{ size(steps.s{i - 6}.data) > 0 }}}}",
                "    inputs:",
                f'      value: "first event: ${{{{ steps.s{i - 6}.data[0].uri }}}} for ${{{{ steps.s{i - 8}.data.resource.name }}}}"',  # noqa: E501
            ]
        else:
            lines += [
                f"  - id: {sid}",
                "    action: calendly.listEventInvitees",
                "    inputs:",
                "      connection: ${{ config.calendly }}",
                f"      uuid: ${{{{ steps.s{i - 8}.data.resource.uri }}}}",
                "      limit: 20",
            ]
    return "\n".join(lines) + "\n"
