"""Scenarios: sandbox actions whose real, signed webhooks start the runs; a test sandbox a
component offers through the ``flow_test_sandboxes`` hook."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import pytest
from flowtest_support import FLOWS, Write, run_file
from hypothesis import given, settings
from hypothesis import strategies as st

from components.calendly.sandbox.testing import TestSandbox
from runtime import FlowError, ManualClock, Runtime, hookimpl
from runtime.flowtests import Session
from runtime.flowtests.report import failure_text

HEAD = f"""\
flow: {FLOWS / "booking-follow-up.yaml"}
config:
  calendly: {{clientId: sandbox-client-id, clientSecret: sandbox-client-secret, useLiveServer: false}}
  organization: TUANV24OXUSEUMYM
  followUpEventType: HDWNG6N3G3J7OPUS
cases:
"""


def one(write: Write, case: str, session: Session | None = None) -> Any:
    (result,) = run_file(write("tests/test_s.yaml", HEAD + case), session)
    return result


def test_a_booking_s_signed_webhook_starts_the_run(write: Write) -> None:
    result = one(
        write,
        """\
  - name: booked
    scenario:
      - book: {email: pat@example.org, name: Pat Lee, in_days: 2}
    expect:
      - runs.size() == 1
      - trigger.body.event == 'invitee.created'
      - trigger.body.payload.email == 'pat@example.org'
      - requests.exists(r, r.method == 'POST' && r.path == '/webhook_subscriptions' && r.body.url == 'https://relay.test/hooks/flow-test')
      - sandbox.deliveries == 1
""",
    )
    assert result.ok, failure_text(result)


class _Tampering(TestSandbox):
    """Changes each delivery's body after it was signed."""

    async def webhooks(self, url: str) -> list[dict[str, Any]]:
        out = await super().webhooks(url)
        return [
            {**d, "body": d["body"].replace(b"invitee.created", b"invitee.canceled")} for d in out
        ]


class _TamperingPlugin:
    @hookimpl(tryfirst=True)
    def flow_test_sandboxes(self) -> Mapping[str, Any]:
        return {"calendly": _Tampering}


class _NoSandboxPlugin:
    @hookimpl
    def flow_test_sandboxes(self) -> None:
        return None


def test_a_delivery_whose_signature_does_not_match_starts_nothing(write: Write) -> None:
    session = Session(Runtime(plugins=[_TamperingPlugin()]))
    assert session.sandboxes["calendly"] is _Tampering
    result = one(
        write,
        "  - name: tampered\n    scenario: [{book: {}}]\n    expect: [status == 'completed']\n",
        session,
    )
    assert result.outcome == "error"
    assert "WebhookRejected" in result.error and "signature" in result.error.lower()


def test_a_plugin_offering_no_sandbox_is_left_out() -> None:
    session = Session(Runtime(plugins=[_NoSandboxPlugin()]))
    assert set(session.sandboxes) == {"calendly"}
    assert "book" in session.scenarios()["calendly"]


def test_an_action_the_sandbox_refuses_is_an_error_at_its_place(write: Write) -> None:
    result = one(
        write,
        "  - name: nothing booked\n    scenario: [{cancel: {}}]\n    expect: [status == 'completed']\n",
    )
    assert result.outcome == "error"
    path = write("tests/test_s.yaml", "x").parent
    assert result.error == (
        f"{path / 'test_s.yaml'}:8:17: scenario action cancel: no invitee booked yet: book one first, or name `invitee`"
    )
    result = one(
        write,
        "  - name: unknown type\n    scenario: [{book: {event_type: NOPE}}]\n    expect: [status == 'completed']\n",
    )
    assert result.outcome == "error" and "book: " in result.error


def test_a_scenario_whose_webhooks_the_flow_does_not_select_starts_no_run(write: Write) -> None:
    path = write(
        "tests/test_routing.yaml",
        f"""\
        flow: {FLOWS / "routing-form-sync.yaml"}
        config:
          calendly: {{clientId: sandbox-client-id, clientSecret: sandbox-client-secret, useLiveServer: false}}
          organization: TUANV24OXUSEUMYM
        cases:
          - name: a booking
            scenario: [{{book: {{}}}}]
            expect: [status == 'completed']
        """,
    )
    (result,) = run_file(path)
    assert result.outcome == "error"
    assert result.error.endswith(
        "the scenario started no run (0 webhook(s) delivered, none the flow's trigger accepted)"
    )


def test_fail_next_answers_the_next_calls_with_the_status(write: Write) -> None:
    result = one(
        write,
        """\
  - name: gone
    scenario:
      - fail_next: {status: 404, path: /users/me}
      - book: {}
    expect:
      - status == 'failed'
      - error.step == 'me'
      - steps.me.error.status == 404
      - requests.filter(r, r.path == '/users/me').size() == 1
""",
    )
    assert result.ok, failure_text(result)


def test_calendar_plan_and_labels_show_in_the_sandbox_s_facts(write: Write) -> None:
    result = one(
        write,
        """\
  - name: facts
    scenario:
      - break_calendar: {}
      - break_calendar: {}
      - set_plan: {plan: standard}
      - book: {as: first, email: a@example.org}
      - cancel: {invitee: first}
      - mend_calendar: {}
    expect:
      - sandbox.broken_calendars == []
      - sandbox.plan == 'standard'
      - sandbox.invitees.first.status == 'canceled'
      - sandbox.invitees.last.email == 'a@example.org'
      - sandbox.events.canceled >= 1
      - runs.size() == 2
""",
    )
    assert result.ok, failure_text(result)


def test_the_same_scenario_gives_the_same_ids_on_every_run(write: Write) -> None:
    case = """\
  - name: again
    scenario: [{book: {}}]
    expect: [trigger.body.payload.uri == '']
"""
    first = one(write, case).failures[0].seen
    second = one(write, case).failures[0].seen
    assert first == second and "scheduled_events" in first[0]


@settings(max_examples=40, deadline=None)
@given(
    st.sampled_from(
        ["cancel", "reschedule", "no_show", "book", "break_calendar", "submit_routing_form"]
    ),
    st.dictionaries(
        st.sampled_from(["invitee", "event_type", "user", "form", "email", "start_time"]),
        st.text(max_size=20),
        max_size=2,
    ),
)
def test_any_action_does_it_or_says_why(action: str, arguments: dict[str, Any]) -> None:
    sandbox = TestSandbox(ManualClock(now=1_767_225_600.0))

    async def main() -> None:
        try:
            await sandbox.act(action, arguments)
        except ValueError as exc:
            assert str(exc)

    asyncio.run(main())


def test_an_unknown_action_is_a_value_error() -> None:
    sandbox = TestSandbox(ManualClock())
    with pytest.raises(ValueError, match="unknown scenario action 'explode'"):
        asyncio.run(sandbox.act("explode", {}))


def test_seed_data_is_there_before_the_trigger_and_sends_it_nothing(write: Write) -> None:
    result = one(
        write,
        f"""\
  - name: seeded
    seed:
      - book: {{email: old@example.org, in_days: -5, as: earlier}}
    payload_file: {FLOWS / "samples" / "booking-follow-up.payload.json"}
    expect:
      - sandbox.deliveries == 0
      - sandbox.invitees.earlier.email == 'old@example.org'
      - status == 'completed'
""",
    )
    assert result.ok, failure_text(result)


def test_seed_data_needs_a_sandbox(write: Write) -> None:
    path = write(
        "tests/test_seed.yaml", "flow: ../flow.yaml\ncases:\n  - name: a\n    seed: [{book: {}}]\n"
    )
    with pytest.raises(FlowError) as caught:
        Session().load(str(path))
    assert [str(p) for p in caught.value.problems] == [
        f"{path}:4:11: cases[0].seed: seed data needs a test sandbox: name one with `sandbox:` (offered: calendly)"
    ]
