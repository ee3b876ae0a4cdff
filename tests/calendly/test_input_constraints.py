"""Inputs refuse what Calendly refuses, before any request: the constraints come from Calendly's
OpenAPI document (``data/openapi.json``), probed at their edges for every input that feeds a
constrained parameter. Rules across inputs are in ``test_input_rules.py``."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from components.calendly.component import build_component
from runtime import InputValidationError, Problem
from runtime.inputs import InputSchema

SPEC = Path(__file__).resolve().parent / "data" / "openapi.json"

#: (kind, key, input) -> (method, path, where, parameter): every input that feeds a parameter
#: the spec constrains (enum, range, length, format, items).
FEEDS: dict[tuple[str, str, str], tuple[str, str, str, str]] = {
    ("action", "listEventInvitees", "status"): (
        "get",
        "/scheduled_events/{uuid}/invitees",
        "query",
        "status",
    ),
    ("action", "listEventInvitees", "email"): (
        "get",
        "/scheduled_events/{uuid}/invitees",
        "query",
        "email",
    ),
    ("action", "listEvents", "status"): ("get", "/scheduled_events", "query", "status"),
    ("action", "listEvents", "inviteeEmail"): (
        "get",
        "/scheduled_events",
        "query",
        "invitee_email",
    ),
    ("data_source", "events", "status"): ("get", "/scheduled_events", "query", "status"),
    ("data_source", "events", "inviteeEmail"): (
        "get",
        "/scheduled_events",
        "query",
        "invitee_email",
    ),
    ("action", "listOrganizationInvitations", "email"): (
        "get",
        "/organizations/{uuid}/invitations",
        "query",
        "email",
    ),
    ("action", "listOrganizationInvitations", "status"): (
        "get",
        "/organizations/{uuid}/invitations",
        "query",
        "status",
    ),
    ("action", "inviteUserToOrganization", "email"): (
        "post",
        "/organizations/{uuid}/invitations",
        "body",
        "email",
    ),
    ("action", "listOrganizationMemberships", "email"): (
        "get",
        "/organization_memberships",
        "query",
        "email",
    ),
    ("data_source", "organizationMemberships", "email"): (
        "get",
        "/organization_memberships",
        "query",
        "email",
    ),
    ("action", "createWebhookSubscription", "url"): (
        "post",
        "/webhook_subscriptions",
        "body",
        "url",
    ),
    ("action", "createWebhookSubscription", "event"): (
        "post",
        "/webhook_subscriptions",
        "body",
        "events",
    ),
    ("action", "createWebhookSubscription", "scope"): (
        "post",
        "/webhook_subscriptions",
        "body",
        "scope",
    ),
    ("action", "listWebhookSubscription", "scope"): (
        "get",
        "/webhook_subscriptions",
        "query",
        "scope",
    ),
    ("action", "deleteInstancedWebhooks", "scope"): (
        "get",
        "/webhook_subscriptions",
        "query",
        "scope",
    ),
    ("trigger", "calendlyTrigger", "scope"): ("post", "/webhook_subscriptions", "body", "scope"),
    ("action", "createSingleUseSchedulingLink", "maxEventCount"): (
        "post",
        "/scheduling_links",
        "body",
        "max_event_count",
    ),
    ("action", "createSingleUseSchedulingLink", "ownerType"): (
        "post",
        "/scheduling_links",
        "body",
        "owner_type",
    ),
    ("action", "deleteInviteeData", "emails"): (
        "post",
        "/data_compliance/deletion/invitees",
        "body",
        "emails",
    ),
    ("action", "cancelEvent", "reason"): (
        "post",
        "/scheduled_events/{uuid}/cancellation",
        "body",
        "reason",
    ),
    ("action", "listActivityLogEntries", "searchTerm"): (
        "get",
        "/activity_log_entries",
        "query",
        "search_term",
    ),
    ("action", "listActivityLogEntries", "sortList"): (
        "get",
        "/activity_log_entries",
        "query",
        "sort",
    ),
    ("action", "listActivityLogEntries", "minOccurredAt"): (
        "get",
        "/activity_log_entries",
        "query",
        "min_occurred_at",
    ),
    ("action", "listActivityLogEntries", "maxOccurredAt"): (
        "get",
        "/activity_log_entries",
        "query",
        "max_occurred_at",
    ),
    ("action", "createShare", "name"): ("post", "/shares", "body", "name"),
    ("action", "createShare", "duration"): ("post", "/shares", "body", "duration"),
    ("action", "createShare", "periodType"): ("post", "/shares", "body", "period_type"),
    ("action", "createShare", "startDate"): ("post", "/shares", "body", "start_date"),
    ("action", "createShare", "endDate"): ("post", "/shares", "body", "end_date"),
    ("action", "deleteScheduledEventData", "startTime"): (
        "post",
        "/data_compliance/deletion/events",
        "body",
        "start_time",
    ),
    ("action", "deleteScheduledEventData", "endTime"): (
        "post",
        "/data_compliance/deletion/events",
        "body",
        "end_time",
    ),
}
#: Constrained parameters no input feeds as such, and why.
NOT_FED = {
    "count": "relay sets the page size (the endpoint's maximum; limit is checked >= 1)",
    "uri": "built by relay from a URI or UUID input that is checked as one",
    "location_configurations": "checked item by item: test_location_configurations_*",
}
#: Parameters that carry a resource URI relay builds (its input is a checked URI or UUID).
BUILT_URIS = {"user", "organization", "event_type", "owner", "invitee", "form", "actor"}


@functools.cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(SPEC.read_text(encoding="utf-8"))
    return loaded


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        _, _, kind, name = node["$ref"].split("/", 3)
        node = spec()["components"][kind][name]
    return node


def parameter_schema(method: str, path: str, where: str, name: str) -> dict[str, Any]:
    op = spec()["paths"][path][method]
    if where == "body":
        body = _resolve(op["requestBody"]["content"]["application/json"]["schema"])
        return _resolve(body["properties"][name])
    (param,) = [p for p in map(_resolve, op.get("parameters", [])) if p["name"] == name]
    return _resolve(param["schema"])


_CONSTRAINTS = ("enum", "minimum", "maximum", "maxLength", "minLength", "pattern", "format")


def constrained(schema: dict[str, Any]) -> bool:
    items = _resolve(schema.get("items", {}))
    return any(k in schema for k in _CONSTRAINTS) or any(k in items for k in _CONSTRAINTS)


def _declaration(kind: str, key: str) -> Any:
    component = build_component()
    found = {"action": component.action, "data_source": component.data_source}.get(kind)
    if found is not None:
        return found(key)
    return next(t for t in component.triggers if t.key == key)


def problems_of(kind: str, key: str, name: str, value: Any) -> list[Problem]:
    """The problems relay reports for ``name`` when it is given ``value`` (before any request)."""
    declared = _declaration(kind, key)
    schema = InputSchema(f"calendly.{key}", declared.inputs)
    try:
        schema.validate({name: value})
    except InputValidationError as exc:
        return [p for p in exc.problems if p.path == f"$.{name}" or p.path.startswith(f"$.{name}[")]
    return []


def probes(schema: dict[str, Any]) -> tuple[list[Any], list[Any]]:
    """(values Calendly accepts, values it refuses) at the edges of one scalar schema."""
    good: list[Any] = []
    bad: list[Any] = []
    if "enum" in schema:
        good += list(schema["enum"])
        bad.append("not-one-of-them" if schema.get("type") != "number" else 2)
    if "minimum" in schema:
        good.append(schema["minimum"])
        bad.append(schema["minimum"] - 1)
    if "maximum" in schema:
        good.append(schema["maximum"])
        bad.append(schema["maximum"] + 1)
    if "maxLength" in schema:
        good.append("x" * schema["maxLength"])
        bad.append("x" * (schema["maxLength"] + 1))
    fmt = schema.get("format")
    good += {
        "email": ["a.person@example.com"],
        "uri": ["https://receiver.example/hook"],
        "date-time": ["2030-01-02T03:04:05Z"],
        "date": ["2030-01-02"],
    }.get(fmt or "", [])
    bad += {
        "email": ["not an email"],
        "uri": ["not a uri", "https://", "receiver.example/hook"],
        "date-time": ["tomorrow"],
        "date": ["2030-13-45"],
    }.get(fmt or "", [])
    return good, bad


def _as_input(value: Any, declared: Any) -> Any:
    return [value] if declared.collection == "valuelist" else value


@pytest.mark.parametrize("fed", sorted(FEEDS), ids=lambda f: f"{f[1]}.{f[2]}")
def test_every_fed_input_refuses_what_its_parameter_refuses(fed: tuple[str, str, str]) -> None:
    kind, key, name = fed
    schema = parameter_schema(*FEEDS[fed])
    assert constrained(schema), f"{fed}: the spec has no constraint here"
    declared = next(i for i in _declaration(kind, key).inputs if i.key == name)
    scalar = _resolve(schema.get("items", schema)) if schema.get("type") == "array" else schema
    good, bad = probes(scalar)
    assert good and bad
    for value in good:
        assert problems_of(kind, key, name, _as_input(value, declared)) == [], value
    for value in bad:
        found = problems_of(kind, key, name, _as_input(value, declared))
        assert found, f"{key}.{name} accepts {value!r}, which Calendly refuses"
        assert all("\n" not in str(p) for p in found)


def test_every_constrained_parameter_is_fed_by_a_checked_input_or_explained() -> None:
    fed = set(FEEDS.values())
    unexplained = []
    for path, item in spec()["paths"].items():
        for method, op in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue  # path-level parameters are path segments
            params = [
                (p["in"], p["name"], _resolve(p["schema"]))
                for p in map(_resolve, op.get("parameters", []))
            ]
            if "requestBody" in op:
                body = _resolve(op["requestBody"]["content"]["application/json"]["schema"])
                params += [("body", n, _resolve(s)) for n, s in body.get("properties", {}).items()]
            for where, name, schema in params:
                if where == "path" or not constrained(schema):
                    continue
                if (method, path, where, name) in fed or name in NOT_FED:
                    continue
                items = _resolve(schema.get("items", {}))
                if name in BUILT_URIS and "uri" in (schema.get("format"), items.get("format")):
                    continue
                unexplained.append(f"{method.upper()} {path} {where} {name}")
    assert unexplained == []


# --- single inputs, open-ended values ------------------------------------------------------


@given(st.integers(-10_000, 10_000))
def test_share_duration_is_1_to_720_minutes(minutes: int) -> None:
    ok = 1 <= minutes <= 720
    for value in (minutes, str(minutes)):
        found = problems_of("action", "createShare", "duration", value)
        if ok:
            assert found == []
        else:
            assert found and all(p.path == "$.duration" for p in found), value


_SORTS = parameter_schema("get", "/activity_log_entries", "query", "sort")["items"]["enum"]


@given(st.lists(st.one_of(st.sampled_from(_SORTS), st.text(max_size=20)), max_size=4))
def test_activity_sort_values_are_the_spec_enum(values: list[str]) -> None:
    found = problems_of("action", "listActivityLogEntries", "sortList", values)
    assert (found == []) == all(v in _SORTS for v in values)


@given(st.text(max_size=40))
def test_a_sort_is_field_colon_direction(text: str) -> None:
    """Calendly's sort syntax: ``{field}:{asc|desc}``, comma-separated (empty: unset)."""
    fields = text.split(",")
    shaped = all(
        len(f.split(":")) == 2
        and f.split(":")[1] in ("asc", "desc")
        and f.split(":")[0] != ""
        and all(c.isalnum() or c in "_." for c in f.split(":")[0])
        for f in fields
    )
    for key in ("listEvents", "listEventInvitees", "listUserEventTypes", "listRoutingForms"):
        found = problems_of("action", key, "sort", text)
        assert (found == []) == (text == "" or (shaped and text.isascii())), (key, text)


@pytest.mark.parametrize(
    "value",
    [
        [{"kind": "nope", "location": "HQ"}],
        [{"kind": "physical", "location": "x" * 256}],
        [{"kind": "physical", "additional_info": "x" * 256}],
        [{"kind": "physical", "position": "first"}],
        ["physical"],
        '[{"kind": "nope"}]',
    ],
)
def test_location_configurations_refuse_what_the_spec_refuses(value: Any) -> None:
    found = problems_of("action", "createShare", "locationConfigurations", value)
    assert found and all("\n" not in str(p) for p in found)


def test_location_configurations_accept_the_spec_kinds() -> None:
    schema = parameter_schema("post", "/shares", "body", "location_configurations")
    kinds = schema["items"]["properties"]["kind"]["enum"]
    value = [{"kind": k, "location": "x" * 255, "position": n} for n, k in enumerate(kinds)]
    assert problems_of("action", "createShare", "locationConfigurations", value) == []
    assert problems_of("action", "createShare", "locationConfigurations", json.dumps(value)) == []
