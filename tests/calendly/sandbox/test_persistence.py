"""``Sandbox(state_file=...)``: a restarted sandbox keeps tokens, subscriptions and deliveries;
a state file that cannot be used is one error naming the file, never a traceback."""

from __future__ import annotations

import asyncio
import json
import stat
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sandbox_client import REDIRECT, code_flow_tokens, in_process_client
from webhook_receiver import WebhookReceiver

from components.calendly.sandbox import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    Sandbox,
    SandboxConfig,
)
from components.calendly.sandbox.persistence import SandboxStateError

from .conftest import BASE_URL, T0, FakeClock

RECEIVER = "http://receiver.test/hook"


def _config() -> SandboxConfig:
    return SandboxConfig(seed=2, events=20, base_url=BASE_URL)


def _start(
    path: Path, clock: FakeClock, transport: httpx.AsyncBaseTransport | None = None
) -> Sandbox:
    return Sandbox(
        _config(), clock=clock, sleep=clock.sleep, state_file=path, webhook_transport=transport
    )


def _http(sb: Sandbox) -> httpx.AsyncClient:
    return in_process_client(sb)


async def _refresh(http: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await http.post(
        "/oauth/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
    )


@pytest.mark.asyncio
async def test_a_restart_on_the_same_file_keeps_tokens_and_subscriptions(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "sandbox.json"
    first = _start(path, clock)
    async with _http(first) as http:
        tokens = await code_flow_tokens(http)
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        created = await http.post(
            "/webhook_subscriptions",
            headers=auth,
            json={
                "url": RECEIVER,
                "events": ["invitee.created"],
                "organization": tokens["organization"],
                "scope": "organization",
            },
        )
        assert created.status_code == 201, created.text
        assert (await http.post("/_sandbox/plan", json={"plan": "standard"})).status_code == 200
        faults = {"error_rate_429": 1e-9, "seed": 4}
        assert (await http.post("/_sandbox/faults", json=faults)).status_code == 200
    sub_uri = created.json()["resource"]["uri"]
    first_ids = set(first.state.invitees)
    first.close()  # the process ends
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # it holds tokens and signing keys
    # no temporary file is left beside it, only the lock that keeps a second sandbox off it
    assert await asyncio.to_thread(lambda: sorted(p.name for p in tmp_path.iterdir())) == [
        "sandbox.json",
        "sandbox.json.lock",
    ]

    receiver = WebhookReceiver()
    second = _start(path, clock, receiver.transport())
    assert second.plan == "standard" and second.faults.error_rate_429 == 1e-9
    async with _http(second) as http:
        rotated = await _refresh(http, tokens["refresh_token"])
        assert rotated.status_code == 200, rotated.text
        auth = {"Authorization": f"Bearer {rotated.json()['access_token']}"}
        listed = await http.get(
            "/webhook_subscriptions",
            headers=auth,
            params={"organization": tokens["organization"], "scope": "organization"},
        )
        assert sub_uri in [s["uri"] for s in listed.json()["collection"]]
        booked = await http.post("/_sandbox/book", json={"email": "new@example.org"})
        assert booked.status_code == 201
    await second.drain_webhooks()
    assert len(receiver.received) == 1 and second.deliveries[-1].status == "delivered"
    # the identifier generator went on from where it stopped: nothing minted twice
    new_ids = set(second.state.invitees) - first_ids
    assert len(new_ids) == 1
    second.close()

    third = _start(path, clock)
    async with _http(third) as http:
        # the rotation was kept too: the used refresh token is spent, the new one works
        assert (await _refresh(http, tokens["refresh_token"])).status_code == 400
        assert (await _refresh(http, rotated.json()["refresh_token"])).status_code == 200
    assert [d.status for d in third.deliveries] == ["delivered"]


@pytest.mark.asyncio
async def test_a_delivery_cut_off_by_the_restart_is_delivered_after_it(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "sandbox.json"
    first = _start(path, clock)
    async with _http(first) as http:
        pat = (await http.post("/_sandbox/tokens", json={"kind": "pat"})).json()["access_token"]
        r = await http.post(
            "/webhook_subscriptions",
            headers={"Authorization": f"Bearer {pat}"},
            json={
                "url": RECEIVER,
                "events": ["invitee.created"],
                "organization": first.org_uri(),
                "scope": "organization",
            },
        )
        assert r.status_code == 201
        # booked over HTTP, answered, and the process stops before the POST is made
        assert (await http.post("/_sandbox/book", json={})).status_code == 201
    assert [d.status for d in first.deliveries] == ["pending"]
    first.close()
    receiver = WebhookReceiver()
    second = _start(path, clock, receiver.transport())
    await second.drain_webhooks()
    assert len(receiver.received) == 1
    assert [d.status for d in second.deliveries] == ["delivered"]
    second.close()
    assert [d.status for d in _start(path, clock).deliveries] == ["delivered"]


def test_a_new_file_is_written_at_once_with_the_seed(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "sandbox.json"
    sb = _start(path, clock)
    data = json.loads(path.read_text())
    assert data["format"] == "relay-calendly-sandbox-state"
    sb.close()
    later = FakeClock(T0 + 3 * 86400)  # another day would seed other data; the file wins
    again = Sandbox(_config(), clock=later, state_file=path)
    assert set(again.state.events) == set(sb.state.events)


@pytest.mark.asyncio
async def test_a_change_that_cannot_be_saved_is_not_acknowledged(
    tmp_path: Path, clock: FakeClock
) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    sb = _start(folder / "sandbox.json", clock)
    for leftover in folder.iterdir():
        leftover.unlink()
    folder.rmdir()  # the state file's folder disappears while the sandbox serves
    async with _http(sb) as http:
        answer = await http.post("/_sandbox/book", json={})
    assert answer.status_code == 503
    assert answer.json()["title"] == "Service Unavailable"


def _valid_document(tmp_path: Path) -> str:
    path = tmp_path / "valid.json"
    Sandbox(SandboxConfig(seed=3, events=2, base_url=BASE_URL), clock=FakeClock(), state_file=path)
    return path.read_text()


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3]):
            out.extend(_paths(v, (*prefix, i)))
    return out


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def _corrupt(draw: st.DrawFn, valid: str) -> bytes:
    kind = draw(st.sampled_from(["bytes", "truncated", "replaced", "dropped", "flipped"]))
    if kind == "bytes":
        return draw(st.binary(max_size=200))
    if kind == "truncated":
        return valid.encode()[: draw(st.integers(0, len(valid) - 1))]
    if kind == "flipped":
        raw = bytearray(valid.encode())
        at = draw(st.integers(0, len(raw) - 1))
        raw[at] = draw(st.integers(0, 255))
        return bytes(raw)
    doc = json.loads(valid)
    where = draw(st.sampled_from(_paths(doc)[1:]))
    parent = doc
    for key in where[:-1]:
        parent = parent[key]
    if kind == "dropped":
        del parent[where[-1]]
    else:
        parent[where[-1]] = draw(_JSON)
    return json.dumps(doc).encode()


@pytest.fixture(scope="module")
def valid_text(tmp_path_factory: pytest.TempPathFactory) -> str:
    return _valid_document(tmp_path_factory.mktemp("valid"))


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_corrupt_file_is_one_error_naming_it(
    tmp_path: Path, valid_text: str, data: st.DataObject
) -> None:
    contents = data.draw(_corrupt(valid_text))
    path = tmp_path / "state.json"
    path.write_bytes(contents)
    try:
        sb = Sandbox(
            SandboxConfig(seed=3, events=2, base_url=BASE_URL), clock=FakeClock(), state_file=path
        )
    except SandboxStateError as exc:
        message = str(exc)
        assert message.startswith(f"sandbox state file {path}: ")
        assert "\n" not in message and len(message) < 400
        return
    # the edit happened to be one the sandbox can live with: then it serves
    try:
        assert asyncio.run(_worst_status(sb)) < 500
    finally:
        sb.close()


async def _worst_status(sb: Sandbox) -> int:
    """The highest status of a few reads and a booking (a loaded file must not make 500s)."""
    org = sb.org_uri()
    reads = [
        ("/users/me", {}),
        ("/scheduled_events", {"organization": org}),
        ("/event_types", {"organization": org}),
        ("/webhook_subscriptions", {"organization": org, "scope": "organization"}),
        ("/_sandbox/state", {}),
    ]
    headers = {"Authorization": f"Bearer {sb.personal_access_token()}"}
    async with _http(sb) as http:
        statuses = [
            (await http.get(url, params=q, headers=headers)).status_code for url, q in reads
        ]
        statuses.append((await http.post("/_sandbox/book", json={})).status_code)
    return max(statuses)


def test_a_second_sandbox_on_the_same_file_is_refused(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "sandbox.json"
    first = _start(path, clock)
    with pytest.raises(SandboxStateError) as caught:
        _start(path, clock)
    assert str(caught.value) == f"sandbox state file {path}: is in use by another sandbox"
    first.close()
    _start(path, clock).close()


def test_a_record_naming_a_missing_one_is_refused(tmp_path: Path, valid_text: str) -> None:
    doc = json.loads(valid_text)
    key, invitee = next(iter(doc["state"]["invitees"].items()))
    invitee["event_uuid"] = "NOSUCHEVENT"
    path = tmp_path / "state.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(SandboxStateError) as caught:
        Sandbox(_config(), state_file=path)
    where = (
        f'$.state.invitees["{key}"].event_uuid'
        if key[0].isdigit()
        else (f"$.state.invitees.{key}.event_uuid")
    )
    assert str(caught.value) == (
        f"sandbox state file {path}: {where}: names no record in $.state.events"
    )


def test_a_folder_or_empty_file_is_one_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text("")
    for path, reason in ((tmp_path, "cannot be read"), (empty, "is empty")):
        with pytest.raises(SandboxStateError) as caught:
            Sandbox(_config(), state_file=path)
        assert str(caught.value).startswith(f"sandbox state file {path}: {reason}")


@pytest.mark.asyncio
async def test_reads_do_not_write_but_an_authorization_code_is_kept(
    tmp_path: Path, clock: FakeClock
) -> None:
    path = tmp_path / "sandbox.json"
    first = _start(path, clock)
    seeded = path.read_bytes()
    async with _http(first) as http:
        pat = (await http.post("/_sandbox/tokens", json={"kind": "pat"})).json()["access_token"]
        written = path.read_bytes()
        assert written != seeded
        for url in ("/users/me", "/event_types", "/_sandbox/state", "/_sandbox/deliveries"):
            await http.get(url, headers={"Authorization": f"Bearer {pat}"})
        assert path.read_bytes() == written
        r = await http.get(
            "/oauth/authorize",
            params={
                "client_id": DEFAULT_CLIENT_ID,
                "response_type": "code",
                "redirect_uri": REDIRECT,
            },
        )
    first.close()
    code = httpx.URL(r.headers["location"]).params["code"]
    async with _http(_start(path, clock)) as http:
        tok = await http.post(
            "/oauth/token",
            data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
            auth=(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET),
        )
    assert tok.status_code == 200, tok.text
