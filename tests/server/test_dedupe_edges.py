"""The edges of a delivery's identity: ``dedupe:`` checked when the flow loads (FILE:LINE:COL),
a component's declared identity checked when it registers, hostile ``Idempotency-Key`` values
and hostile expression results bounded (a clear 400/422 or a bounded key, never an error out
of relay), the dedupe window setting, and the bounds of rejection counting."""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flow_problems import problems_of
from hypothesis import given
from hypothesis import strategies as st

from runtime import (
    Component,
    ConfigurationError,
    PluginError,
    Runtime,
    Service,
    Trigger,
    TriggerEvent,
    WebhookRejected,
    WebhookRequest,
    open_store,
)
from runtime.dedupe import DEFAULT_WINDOW, MAX_HEADER, dedupe_window_from_env, header_key
from runtime.rejections import OVERFLOW_REASON, RejectionLog, flush_forever
from runtime.server.pruning import prune_forever
from runtime.store.deliveries import RejectionCount
from runtime.testing import ComponentPlugin

HOOK = "name: x\ntrigger:\n  webhook: {}\n  dedupe: %s\nsteps:\n  - {id: a, action: relay.value, inputs: {value: 1}}\n"
KEYED = HOOK % "${{ trigger.body.id }}"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ('"${{ steps.a.data }}"', "f.yaml:4:11: trigger.dedupe: reference to step 'a'"),
        ("plain", "f.yaml:4:11: trigger.dedupe: dedupe must be an expression"),
        ("${{ config.x }}", "reads only trigger (the delivery), not config"),
        (
            "${{ trigger.body.items.map(i, i.id) }}",
            "f.yaml:4:11: trigger.dedupe: a dedupe expression runs on every delivery",
        ),
        ("${{ trigger.body.( }}", "f.yaml:4:11: trigger.dedupe: expression error"),
    ],
)
def test_a_dedupe_expression_is_checked_when_the_flow_loads(written: str, expected: str) -> None:
    found = problems_of(Runtime(), HOOK % written)
    assert any(expected in p for p in found), found


def test_dedupe_is_a_string_and_only_for_triggers_that_receive_webhooks() -> None:
    assert any("f.yaml:4:11" in p for p in problems_of(Runtime(), HOOK % "5"))
    polled = (
        "name: f\nconfig:\n"
        "  calendly: {type: connection, component: calendly, connection: calendlyOauth2Connection}\n"
        "trigger:\n  component: calendly\n  trigger: pollChangesTrigger\n"
        '  inputs: {connection: "${{ config.calendly }}", lookBackDate: "2000-01-01"}\n'
        "  dedupe: ${{ trigger.id }}\n"
        "steps:\n  - {id: a, action: relay.value, inputs: {value: 1}}\n"
    )
    found = problems_of(Runtime(), polled)
    assert found == [
        "f.yaml:8:11: trigger.dedupe: dedupe: only a trigger that receives webhooks dedupes"
    ]
    loaded = Runtime().load_flow_text(KEYED, "f.yaml")
    assert getattr(loaded.trigger, "dedupe", None) is not None


def _hook(**declared: Any) -> Component:
    async def perform(ctx: Any, request: WebhookRequest, params: dict[str, Any]) -> TriggerEvent:
        return TriggerEvent(payload={"body": request.json()})

    trigger = Trigger(
        key="hook", label="Hook", description="d", inputs=(), perform=perform, **declared
    )
    return Component(key="idhook", label="Id", description="d", triggers=(trigger,))


@pytest.mark.parametrize(
    ("declared", "expected"),
    [
        ({"kind": "webhook", "dedupe_key": ("body id",)}, "is not a dotted path"),
        ({"kind": "webhook", "dedupe_key": ["body.id"]}, "dedupe_key must be a tuple"),
        (
            {"kind": "polling", "poll": lambda *a: None, "dedupe_key": ("id",)},
            "only a webhook trigger dedupes",
        ),
    ],
)
def test_a_declared_identity_is_checked_when_the_component_registers(
    declared: dict[str, Any], expected: str
) -> None:
    with pytest.raises(PluginError, match=expected):
        Runtime(plugins=[ComponentPlugin(_hook(**declared))]).registry  # noqa: B018


@given(st.text(max_size=600) | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E)))
def test_any_idempotency_key_is_a_bounded_key_or_a_clear_400(value: str) -> None:
    visible = all(0x20 <= ord(c) <= 0x7E for c in value) and value[:1] != " " != value[-1:]
    acceptable = 1 <= len(value) <= MAX_HEADER and visible
    try:
        key = header_key({"Idempotency-Key": value})
    except WebhookRejected as exc:
        assert exc.status == 400 and "Idempotency-Key" in exc.reason
        assert not acceptable, value
        return
    assert acceptable, value
    assert key is not None and key.startswith("key:")
    assert len(key) <= 4 + 200 and key.isprintable()
    assert key == header_key({"idempotency-key": value})  # the same header, the same key


class _Intake:
    """One service on a SQLite file and an event loop of its own, for many examples."""

    def __init__(self, home: Path) -> None:
        self.loop = asyncio.new_event_loop()
        self.home = home
        self.store: Any = self.run(
            open_store(f"sqlite+aiosqlite:///{home / 'r.db'}", data_dir=home)
        )
        self.relay = Service(Runtime(), self.store, base_url="http://relay.test")
        flow = home / "keyed.yaml"
        flow.write_text(KEYED)
        self.token = self.run(self.relay.deploy(flow, {}, "keyed")).webhook_token
        plain = home / "plain.yaml"
        plain.write_text(KEYED.replace("  dedupe: ${{ trigger.body.id }}\n", ""))
        self.plain_token = self.run(self.relay.deploy(plain, {}, "plain")).webhook_token

    def run(self, work: Any) -> Any:
        return self.loop.run_until_complete(work)

    def deliver(self, token: str, body: bytes, headers: dict[str, str]) -> Any:
        request = WebhookRequest(
            method="POST",
            url="http://relay.test/webhooks/x",
            headers=headers,
            body=body,
            received_at=1.0,
        )
        return self.run(self.relay.receive_webhook(token, request))

    async def read_key(self, execution_id: str) -> str | None:
        from sqlalchemy import select

        from runtime.store.tables import deliveries

        async with self.store.engine.connect() as conn:
            found = await conn.scalar(
                select(deliveries.c.dedupe_key).where(deliveries.c.execution_id == execution_id)
            )
        return None if found is None else str(found)

    def key_of(self, execution_id: str) -> str | None:
        result: str | None = self.run(self.read_key(execution_id))
        return result

    def close(self) -> None:
        self.run(self.relay.aclose())
        self.run(self.store.close())
        self.loop.close()


@pytest.fixture
def intake() -> Iterator[_Intake]:
    with tempfile.TemporaryDirectory() as home:
        served = _Intake(Path(home))
        try:
            yield served
        finally:
            served.close()


@given(value=st.text(max_size=400) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_a_hostile_idempotency_key_is_refused_or_stored_bounded(
    intake: _Intake, value: str
) -> None:
    body = json.dumps({"v": value}).encode()
    first = intake.deliver(intake.plain_token, body, {"idempotency-key": value})
    assert first.status in (202, 400), first
    if first.status == 400:
        assert "Idempotency-Key" in first.reason
        return
    key = intake.key_of(first.execution_id)
    assert key is not None and len(key) <= 400 and key.isprintable()
    again = intake.deliver(intake.plain_token, body + b" ", {"idempotency-key": value})
    assert (again.status, again.execution_id, again.duplicate) == (202, first.execution_id, True)


_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False)
    | st.text(max_size=50)
    | st.text(st.characters(exclude_categories=()), max_size=20)  # lone surrogates, NUL too
    | st.text(min_size=300, max_size=3000),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(value=_JSON)
def test_any_dedupe_result_is_a_bounded_key_or_none(intake: _Intake, value: Any) -> None:
    body = json.dumps({"id": value}).encode()
    first = intake.deliver(intake.token, body, {})
    assert first.status == 202, first
    key = intake.key_of(first.execution_id)
    again = intake.deliver(
        intake.token, json.dumps({"other": 1, "id": value}, indent=1).encode(), {}
    )
    assert again.status == 202
    if value is None:
        assert key is None and not again.duplicate
        return
    assert key is not None and key.startswith("expr:") and len(key) <= 400 and key.isprintable()
    assert (again.execution_id, again.duplicate) == (first.execution_id, True)


def test_a_body_the_expression_cannot_read_is_a_422(intake: _Intake) -> None:
    for body in (b'{"no": "id"}', b"[1, 2]", b"not json"):
        outcome = intake.deliver(intake.token, body, {})
        assert outcome.status == 422 and "dedupe expression failed" in outcome.reason


def test_the_dedupe_window_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RELAY_DEDUPE_WINDOW", raising=False)
    assert dedupe_window_from_env() == DEFAULT_WINDOW == 7 * 86400
    monkeypatch.setenv("RELAY_DEDUPE_WINDOW", "12h")
    assert dedupe_window_from_env() == 43200
    for wrong in ("soon", "0", "-1d", "1e999", "nan"):
        monkeypatch.setenv("RELAY_DEDUPE_WINDOW", wrong)
        with pytest.raises(ConfigurationError, match=r"^RELAY_DEDUPE_WINDOW="):
            dedupe_window_from_env()


def test_rejection_counts_stay_bounded(intake: _Intake) -> None:
    log = RejectionLog(intake.store, max_pending=3)
    for n in range(10):  # ten reasons, one minute: three counts and the overflow
        log.add("keyed", 401, f"reason {n}", 120.0 + n)
    assert log.pending == 4
    log.add("keyed", 401, "x" * 5000 + "\x00\ud800", 130.0)  # the overflow takes it
    assert log.pending == 4
    intake.run(log.flush())
    assert log.pending == 0
    rows = intake.run(intake.store.page_deliveries("keyed", "rejected", 100))
    counts = {r.reason: r.times_seen for r in rows}
    assert counts == {"reason 0": 1, "reason 1": 1, "reason 2": 1, OVERFLOW_REASON: 8}
    # each instance keeps its newest rows only; counts for no instance are not kept
    many = [
        RejectionCount("keyed", 60.0 * m, "bad signature", 401, 1, 60.0 * m, 60.0 * m)
        for m in range(20)
    ]
    ghost = RejectionCount("ghost", 0.0, "bad signature", 401, 1, 0.0, 0.0)
    intake.run(intake.store.record_rejections([*many, ghost], keep=5))
    kept = intake.run(intake.store.page_deliveries("keyed", "rejected", 100))
    assert [r.key[0] for r in kept] == [60.0 * m for m in range(19, 14, -1)]
    assert intake.run(intake.store.page_deliveries("ghost", None, 100)) == []
    long_reason = RejectionLog(intake.store)
    long_reason.add("keyed", 400, "y" * 5000, 9999.0)
    intake.run(long_reason.flush())
    [row] = intake.run(intake.store.page_deliveries("keyed", "rejected", 1))
    assert row.reason == "y" * 200


def test_the_server_writes_its_counts_as_it_goes(intake: _Intake) -> None:
    async def counted() -> list[Any]:
        log = RejectionLog(intake.store)
        chore = asyncio.create_task(flush_forever(log, interval=0.001))
        log.add("keyed", 401, "bad signature", 60.0)
        try:
            for _ in range(2000):  # a bound, not a speed claim: the chore writes within a turn
                rows: list[Any] = await intake.store.page_deliveries("keyed", "rejected", 10)
                if rows:
                    return rows
                await asyncio.sleep(0.001)
            return []
        finally:
            chore.cancel()

    [row] = intake.run(counted())
    assert (row.reason, row.times_seen, row.status) == ("bad signature", 1, 401)


def test_a_component_trigger_takes_a_dedupe_expression_over_its_declared_identity() -> None:
    text = (
        "name: f\nconfig:\n"
        "  calendly: {type: connection, component: calendly, connection: calendlyOauth2Connection}\n"
        "  organization: {type: string}\n"
        "trigger:\n  component: calendly\n  trigger: calendlyTrigger\n"
        "  inputs:\n    connection: ${{ config.calendly }}\n"
        "    eventNamesInput: [invitee.created]\n    organization: ${{ config.organization }}\n"
        "    scope: organization\n"
        "  dedupe: ${{ trigger.body.payload.email }}\n"
        "steps:\n  - {id: a, action: relay.value, inputs: {value: 1}}\n"
    )
    declared = Runtime().load_flow_text(
        text.replace("  dedupe: ${{ trigger.body.payload.email }}\n", ""), "f.yaml"
    )
    overridden = Runtime().load_flow_text(text, "f.yaml")
    payload = {
        "body": {
            "event": "invitee.created",
            "created_at": "2027-01-01T00:00:00Z",
            "payload": {"uri": "https://api.calendly.com/invitees/I1", "email": "a@example.com"},
        },
        "branch": "invitee.created",
    }
    request = WebhookRequest(method="POST", url="u", headers={}, body=b"{}", received_at=0.0)
    by_declaration = declared.trigger.dedupe_key(request, payload)
    assert (
        by_declaration
        == 'event:["invitee.created","https://api.calendly.com/invitees/I1","2027-01-01T00:00:00Z"]'
    )
    assert overridden.trigger.dedupe_key(request, payload) == "expr:a@example.com"
    # a payload with none of the declared fields: the body's hash, as for a trigger declaring none
    assert str(declared.trigger.dedupe_key(request, {"body": {}})).startswith("body:")


def test_the_server_releases_expired_keys_without_a_retention_policy(intake: _Intake) -> None:
    first = intake.deliver(intake.plain_token, b"{}", {"idempotency-key": "old"})  # at t=1
    assert intake.key_of(first.execution_id) == "key:old"
    intake.relay.intake.dedupe_window = 10.0  # the runtime's clock is long past 11

    async def released() -> str | None:
        chore = asyncio.create_task(prune_forever(intake.relay, None, interval=0.001))
        try:
            for _ in range(2000):  # a bound, not a speed claim
                await asyncio.sleep(0.001)
                if await intake.read_key(first.execution_id) is None:
                    return None
            return "still there"
        finally:
            chore.cancel()
            await asyncio.gather(chore, return_exceptions=True)

    assert intake.run(released()) is None
