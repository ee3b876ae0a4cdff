"""Trigger kinds: the shipped flow schema describes the built-in kinds, a registry's kinds are
its own, and a new kind parses and is validated like the built-in ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from interval_trigger import IntervalTrigger

from runtime import FlowError, Runtime
from runtime.errors import ConfigurationError
from runtime.registry import Registry
from runtime.schemas import load_schema
from runtime.trigger_kinds import (
    BUILTIN_KINDS,
    ComponentPollingTrigger,
    ComponentWebhookTrigger,
    ManualTrigger,
    ScheduleTrigger,
    WebhookTrigger,
    builtin_kinds,
)

FLOWS = Path(__file__).parents[2] / "flows"
STEPS = "steps:\n  - id: one\n    action: relay.value\n    inputs: {value: 1}\n"


def flow(trigger: str) -> str:
    return f"name: f\n{trigger}{STEPS}"


def problems(runtime: Runtime, text: str) -> list[str]:
    with pytest.raises(FlowError) as info:
        runtime.load_flow_text(text, "f.yaml")
    return [str(p) for p in info.value.problems]


@pytest.fixture
def runtime() -> Runtime:
    return Runtime()


@pytest.fixture
def with_interval(runtime: Runtime) -> Runtime:
    runtime.registry.trigger_kinds.add(IntervalTrigger)
    return runtime


def test_the_shipped_schema_lists_the_forms_of_the_builtin_kinds() -> None:
    assert load_schema("flow")["$defs"]["trigger"] == {"oneOf": builtin_kinds().forms()}
    assert builtin_kinds().flow_schema() == load_schema("flow")


POLLED = """\
name: f
config:
  calendly: {type: connection, component: calendly, connection: calendlyOauth2Connection}
trigger:
  component: calendly
  trigger: pollChangesTrigger
  inputs: {connection: "${{ config.calendly }}", lookBackDate: "2000-01-01"}
"""


def test_each_builtin_trigger_parses_to_its_kind(runtime: Runtime) -> None:
    cases = {
        flow(""): ManualTrigger,
        flow("trigger:\n  manual: {}\n"): ManualTrigger,
        flow("trigger:\n  webhook: {}\n"): WebhookTrigger,
        flow("trigger:\n  schedule: {every: 5m}\n"): ScheduleTrigger,
        POLLED + STEPS: ComponentPollingTrigger,
    }
    for text, kind in cases.items():
        assert type(runtime.load_flow_text(text, "f.yaml").trigger) is kind, text
    hooked = runtime.load_flow(FLOWS / "booking-follow-up.yaml").trigger
    assert isinstance(hooked, ComponentWebhookTrigger)
    assert (hooked.kind, hooked.ref, hooked.receives_webhooks) == (
        "component",
        "calendly.calendlyTrigger",
        True,
    )
    assert "calendly-webhook-signature" in hooked.kept_headers()
    schedule = runtime.load_flow_text(flow("trigger:\n  schedule: {every: 5m}\n"), "f.yaml")
    assert (schedule.trigger.kind, schedule.trigger.interval()) == ("schedule", 300.0)


def test_a_new_kind_parses_once_registered(with_interval: Runtime) -> None:
    loaded = with_interval.load_flow_text(flow("trigger:\n  interval: {seconds: 30}\n"), "f.yaml")
    assert loaded.trigger == IntervalTrigger(seconds=30)
    assert loaded.trigger.kind == "interval"
    assert loaded.trigger.interval() == 30.0
    assert not loaded.trigger.receives_webhooks


def test_a_new_kind_is_validated_at_its_place(with_interval: Runtime) -> None:
    text = flow("trigger:\n  interval: {seconds: 0, every: 1}\n")
    assert problems(with_interval, text) == [
        "f.yaml:3:23: trigger.interval.seconds: 0 is less than the minimum of 1",
        "f.yaml:3:26: trigger.interval: unknown key 'every'",
    ]
    too_long = flow("trigger:\n  interval: {seconds: 90000}\n")
    assert problems(with_interval, too_long) == [
        "f.yaml:3:23: trigger.interval.seconds: at most 86400 (a day)"
    ]
    two = flow("trigger:\n  interval: {seconds: 5}\n  schedule: {every: 5m}\n")
    assert problems(with_interval, two)[0] == (
        "f.yaml:3:3: trigger: a trigger has exactly one of component, webhook, schedule, "
        "manual, interval; this one has schedule and interval"
    )


def test_kinds_belong_to_their_registry(with_interval: Runtime) -> None:
    other = Runtime()
    text = flow("trigger:\n  interval: {seconds: 30}\n")
    assert problems(other, text) == [
        "f.yaml:3:3: trigger: a trigger needs one of component, webhook, schedule, manual"
    ]
    assert list(Registry().trigger_kinds) == list(BUILTIN_KINDS)
    mine = builtin_kinds()
    mine.add(IntervalTrigger)
    assert list(Registry(mine).trigger_kinds)[-1] is IntervalTrigger


def test_a_kind_is_registered_once_and_its_form_requires_its_key() -> None:
    kinds = builtin_kinds()
    with pytest.raises(ConfigurationError, match="already registered"):
        kinds.add(WebhookTrigger)

    class Misformed(IntervalTrigger):
        key = "tick"

    with pytest.raises(ConfigurationError, match="must require 'tick' first"):
        kinds.add(Misformed)
