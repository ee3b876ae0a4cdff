"""The example flows in flows/: they load, `relay run` runs them with their sample files, and
they run end to end on payloads produced by real, signed sandbox deliveries."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import pytest
import pytest_asyncio
from calendly_support import open_sandbox_connection
from click.testing import CliRunner
from webhook_receiver import WebhookReceiver

from components.calendly.sandbox import Sandbox, SandboxConfig
from runtime import ConnectionHandle, ExecutionResult, ManualClock, Runtime, WebhookRequest
from runtime.cli import cli
from runtime.trigger_kinds import ComponentTrigger

FLOWS = Path(__file__).resolve().parents[2] / "flows"
SAMPLES = FLOWS / "samples"
FLOW_NAMES = ("booking-follow-up", "cancellation-cleanup", "routing-form-sync")
HOST = "calendly.test"
BASE = f"http://{HOST}"
HOOK = "https://relay.example.com/hooks/instance-1/"


def flow_files() -> list[Path]:
    return sorted(FLOWS.glob("*.yaml"))


def test_every_flow_loads_and_has_sample_files() -> None:
    runtime = Runtime()
    assert [p.stem for p in flow_files()] == sorted(FLOW_NAMES)
    for path in flow_files():
        flow = runtime.load_flow(path)  # schema, components, inputs and references checked
        assert isinstance(flow.trigger, ComponentTrigger)
        assert flow.trigger.component == "calendly"
        assert (SAMPLES / f"{path.stem}.config.yaml").is_file()
        json.loads((SAMPLES / f"{path.stem}.payload.json").read_text())


def test_booking_follow_up_uses_eight_actions_a_branch_and_a_loop() -> None:
    flow = Runtime().load_flow(FLOWS / "booking-follow-up.yaml")
    text = flow.text
    actions = {s.action for s in flow.walk() if hasattr(s, "action")}
    assert len(actions) >= 8
    assert "trigger.body.event ==" in text and "for_each:" in text
    assert "config.followUpEventType" in text  # the eventTypes picklist's value


def relay_run(name: str) -> dict[str, Any]:
    """`relay run` with the flow's sample config and payload (in-process default sandbox)."""
    result = CliRunner().invoke(
        cli,
        [
            "run",
            str(FLOWS / f"{name}.yaml"),
            "--config",
            str(SAMPLES / f"{name}.config.yaml"),
            "--payload",
            str(SAMPLES / f"{name}.payload.json"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    assert data["status"] == "completed", data["error"]
    return data


def test_relay_run_booking_follow_up() -> None:
    data = relay_run("booking-follow-up")
    out = data["outputs"]
    assert out["route"] == {"branch": "booked"}
    assert out["followUpType"]["data"]["resource"]["name"] == "30 Minute Meeting"
    link = out["followUpLink"]["data"]["resource"]
    assert link["owner"].endswith("/event_types/HDWNG6N3G3J7OPUS")
    assert link["booking_url"].startswith("http://calendly.sandbox.invalid/")
    assert out["followUpShare"]["data"]["resource"]["share_override"]["name"] == (
        "Follow-up with Omar Costa"
    )
    assert out["pastMeetings"]["count"] == len(out["history"]["data"]) >= 1
    ran = {s["action"] for s in data["steps"] if s["status"] == "completed" and s["action"]}
    assert len(ran) >= 8


def test_relay_run_cancellation_cleanup() -> None:
    out = relay_run("cancellation-cleanup")["outputs"]
    assert out["meeting"]["data"]["resource"]["status"] == "canceled"
    assert (
        out["rebookLink"]["data"]["resource"]["owner"]
        == (out["meeting"]["data"]["resource"]["event_type"])
    )
    assert out["cancelOthers"]["count"] == 0  # the reason asks for nothing more
    assert "eraseInvitee" not in out


def test_relay_run_routing_form_sync() -> None:
    out = relay_run("routing-form-sync")["outputs"]
    submission = out["submission"]["data"]["resource"]
    assert out["form"]["data"]["resource"]["name"] == "Inbound Demo Request"
    assert out["leadLink"]["data"]["resource"]["owner"] == submission["result"]["value"]
    assert out["routedTo"]["data"]["resource"]["uri"] == submission["result"]["value"]
    assert out["resync"]["count"] == len(out["latest"]["data"]) == 5


# --- end to end on real deliveries --------------------------------------------------------


@attrs.define
class Live:
    sandbox: Sandbox
    runtime: Runtime
    connection: ConnectionHandle

    def config(self, **extra: Any) -> dict[str, Any]:
        return {
            "calendly": {"$connection": "calendly"},
            "organization": self.sandbox.org_uri(),
            **extra,
        }

    async def deploy(self, name: str, events: list[str]) -> tuple[str, dict[str, Any]]:
        url = HOOK + name
        inputs = {
            "connection": self.connection,
            "eventNamesInput": events,
            "organization": self.sandbox.org_uri(),
            "scope": "organization",
        }
        return url, await self.runtime.deploy_trigger(
            "calendly.calendlyTrigger", inputs, webhook_url=url
        )

    async def payloads(
        self, name: str, events: list[str], state: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Every delivery so far for the flow, through the trigger, as flow payloads."""
        await self.sandbox.drain_webhooks()
        inputs = {
            "connection": self.connection,
            "eventNamesInput": events,
            "organization": self.sandbox.org_uri(),
            "scope": "organization",
        }
        out = []
        for delivery in self.sandbox.deliveries:
            if delivery.url != HOOK + name:
                continue
            request = WebhookRequest(
                method="POST",
                url=delivery.url,
                headers={
                    "Content-Type": "application/json",
                    "Calendly-Webhook-Signature": delivery.signatures[-1],
                },
                body=delivery.body.encode(),
                received_at=self.sandbox.clock(),
            )
            event = await self.runtime.webhook_event(
                "calendly.calendlyTrigger", inputs, request, deploy_state=state
            )
            assert event is not None
            out.append(dict(event.payload))
        return out

    async def run(self, name: str, payload: dict[str, Any], **config: Any) -> ExecutionResult:
        flow = self.runtime.load_flow(FLOWS / f"{name}.yaml")
        # with explicit connections the config is taken as is: fill in the defaults here
        defaults = {var.name: var.default for var in flow.config if var.default is not None}
        result = await self.runtime.run(
            flow,
            config={**defaults, **self.config(**config)},
            payload=payload,
            connections={"calendly": self.connection},
        )
        assert result.status == "completed", result.error
        return result


@pytest_asyncio.fixture
async def live() -> AsyncIterator[Live]:
    sandbox = Sandbox(
        SandboxConfig(seed=7, events=40, base_url=BASE),
        webhook_transport=WebhookReceiver().transport(),  # relay's endpoint: 200 to all
    )
    runtime = Runtime(hosts={HOST: sandbox.app}, clock=ManualClock(now=sandbox.clock()))
    connection = await open_sandbox_connection(runtime, sandbox)
    yield Live(sandbox, runtime, connection)
    await runtime.aclose()


def owner_event_type(sandbox: Sandbox) -> str:
    return next(
        et.uuid
        for et in sandbox.state.event_types.values()
        if et.active and et.host_uuids == [sandbox.owner.uuid]
    )


@pytest.mark.asyncio
async def test_booking_follow_up_on_a_new_booking_and_a_cancellation(live: Live) -> None:
    events = ["invitee.created", "invitee.canceled", "invitee_no_show.created"]
    _, state = await live.deploy("booking", events)
    follow_up = owner_event_type(live.sandbox)
    booked = live.sandbox.book(email="pat@example.org", name="Pat Lee")
    live.sandbox.book(
        email="pat@example.org", name="Pat Lee", start_time=live.sandbox.clock() + 3 * 86400
    )
    live.sandbox.cancel(booked["uri"], "Out sick")
    created, _second, canceled = await live.payloads("booking", events, state)

    result = await live.run("booking-follow-up", created, followUpEventType=follow_up)
    out = result.outputs
    assert out["route"] == {"branch": "booked"}
    assert out["invitee"]["data"]["resource"]["email"] == "pat@example.org"
    assert out["history"]["data"] and out["pastMeetings"]["count"] == len(out["history"]["data"])
    assert all(
        r["attendees"]["data"][0]["email"] == "pat@example.org"
        for r in out["pastMeetings"]["results"]
    )
    assert out["followUpLink"]["data"]["resource"]["owner"].endswith(follow_up)
    assert out["followUpShare"]["data"]["resource"]["share_override"]["max_booking_time"] == 14
    ran = {s.action for s in result.steps if s.status == "completed" and s.action}
    assert len(ran) >= 8

    result = await live.run("booking-follow-up", canceled, followUpEventType=follow_up)
    assert result.outputs["route"] == {"branch": "canceled"}
    assert result.outputs["canceledMeeting"]["data"]["resource"]["status"] == "canceled"
    assert "followUpLink" not in result.outputs


@pytest.mark.asyncio
async def test_cancellation_cleanup_cancels_the_rest_and_erases_on_request(live: Live) -> None:
    events = ["invitee.canceled"]
    _, state = await live.deploy("cleanup", events)
    now = live.sandbox.clock()
    first = live.sandbox.book(email="sam@example.org", name="Sam Roe")
    later = [
        live.sandbox.book(email="sam@example.org", name="Sam Roe", start_time=now + days * 86400)
        for days in (3, 5)
    ]
    bystander = live.sandbox.book(email="kim@example.org", name="Kim Poe")
    live.sandbox.cancel(first["uri"], "Moving abroad: cancel all, and delete my data")
    (payload,) = await live.payloads("cleanup", events, state)

    result = await live.run("cancellation-cleanup", payload)
    out = result.outputs
    assert out["cancelOthers"]["count"] == 2
    for invitee in later:
        event = live.sandbox.state.events[invitee["event"].rsplit("/", 1)[1]]
        assert event.status == "canceled" and event.cancellation is not None
        assert event.cancellation["reason"] == "Canceled at the request of Sam Roe"
    kept = live.sandbox.state.events[bystander["event"].rsplit("/", 1)[1]]
    assert kept.status == "active"
    assert out["rebookLink"]["data"]["resource"]["owner_type"] == "EventType"
    assert out["eraseInvitee"] == {"data": {}}
    assert not any(i.email == "sam@example.org" for i in live.sandbox.state.invitees.values())


@pytest.mark.asyncio
async def test_cancellation_cleanup_leaves_reschedules_alone(live: Live) -> None:
    events = ["invitee.canceled"]
    _, state = await live.deploy("cleanup", events)
    live.sandbox.reschedule(live.sandbox.book()["uri"])
    (payload,) = await live.payloads("cleanup", events, state)
    assert payload["body"]["payload"]["rescheduled"] is True
    result = await live.run("cancellation-cleanup", payload)
    assert {s.id: s.status for s in result.steps} == {
        "meeting": "skipped",
        "upcoming": "skipped",
        "cancelOthers": "completed",
        "rebookLink": "skipped",
        "eraseInvitee": "skipped",
    }


@pytest.mark.asyncio
async def test_routing_form_sync_on_a_new_submission(live: Live) -> None:
    events = ["routing_form_submission.created"]
    _, state = await live.deploy("routing", events)
    form = next(
        f
        for f in live.sandbox.state.routing_forms.values()
        if f.status == "published" and f.org_uuid == live.sandbox.organization.uuid
    )
    live.sandbox.submit_routing_form(form.uuid, {"Email": "lead@example.org"})
    (payload,) = await live.payloads("routing", events, state)

    result = await live.run("routing-form-sync", payload, backlog=3)
    out = result.outputs
    answers = {
        qa["question"]: qa["answer"]
        for qa in out["submission"]["data"]["resource"]["questions_and_answers"]
    }
    assert answers["Email"] == "lead@example.org"
    assert out["form"]["data"]["resource"]["uri"].endswith(form.uuid)
    routed = out["submission"]["data"]["resource"]["result"]["value"]
    assert out["leadLink"]["data"]["resource"]["owner"] == routed
    assert out["latest"]["data"][0]["uri"] == payload["body"]["payload"]["uri"]  # newest first
    assert out["resync"]["count"] == 3
