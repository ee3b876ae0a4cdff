"""``relay sandbox --state FILE`` as a real process: what it acknowledged survives SIGKILL, and
a delivery the kill cut off is sent when it runs again."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
from relay_processes import free_port
from relay_sandbox_process import loopback_sandbox
from relay_uvicorn import ServerThread
from relay_waiting import wait_until
from webhook_receiver import WebhookReceiver

from components.calendly.sandbox import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

REDIRECT = "http://127.0.0.1:1/cb"
AUTH = (DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET)


@contextlib.contextmanager
def _sandbox(home: Path, port: int, state: Path) -> Iterator[httpx.Client]:
    """The sandbox keeping ``state``; killed hard afterwards, so only what it wrote before
    answering survives."""
    with (
        loopback_sandbox(home, "--events", "5", "--state", str(state), port=port) as url,
        httpx.Client(base_url=url) as http,
    ):
        yield http


def _tokens(http: httpx.Client) -> dict[str, Any]:
    r = http.get(
        "/oauth/authorize",
        params={"client_id": DEFAULT_CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT},
    )
    code = httpx.URL(r.headers["location"]).params["code"]
    body: dict[str, Any] = http.post(
        "/oauth/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT},
        auth=AUTH,
    ).json()
    return body


def test_acknowledged_changes_survive_a_kill(tmp_path: Path) -> None:
    state = tmp_path / "sandbox.json"
    port = free_port()
    with _sandbox(tmp_path, port, state) as http:
        tokens = _tokens(http)
        created = http.post(
            "/webhook_subscriptions",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            json={
                "url": "http://127.0.0.1:1/hook",
                "events": ["invitee.canceled"],
                "organization": tokens["organization"],
                "scope": "organization",
            },
        )
        assert created.status_code == 201
    with _sandbox(tmp_path, port, state) as http:
        rotated = http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]},
            auth=AUTH,
        )
        assert rotated.status_code == 200, rotated.text
        sub = http.get(
            created.json()["resource"]["uri"].removeprefix(str(http.base_url).rstrip("/")),
            headers={"Authorization": f"Bearer {rotated.json()['access_token']}"},
        )
        assert sub.status_code == 200
        assert sub.json()["resource"]["callback_url"] == "http://127.0.0.1:1/hook"


def test_a_delivery_cut_off_by_a_kill_is_sent_after_the_restart(tmp_path: Path) -> None:
    state, port, hook_port = tmp_path / "sandbox.json", free_port(), free_port()
    receiver = WebhookReceiver()
    with _sandbox(tmp_path, port, state) as http:
        pat = http.post("/_sandbox/tokens", json={"kind": "pat"}).json()["access_token"]
        org = http.get("/_sandbox/state").json()["organization"]["uri"]
        created = http.post(
            "/webhook_subscriptions",
            headers={"Authorization": f"Bearer {pat}"},
            json={
                "url": f"http://127.0.0.1:{hook_port}/hook",
                "events": ["invitee.created"],
                "organization": org,
                "scope": "organization",
            },
        )
        assert created.status_code == 201
        assert http.post("/_sandbox/book", json={}).status_code == 201  # receiver is down
    with ServerThread(receiver.app, hook_port), _sandbox(tmp_path, port, state) as http:
        assert receiver.arrived.wait(timeout=30), (
            "the cut-off delivery was not sent after the restart"
        )

        def outcome() -> list[str]:  # recorded by the sandbox once the receiver has answered
            statuses = [d["status"] for d in http.get("/_sandbox/deliveries").json()["collection"]]
            return (
                statuses if all(s in ("delivered", "failed", "abandoned") for s in statuses) else []
            )

        statuses = wait_until(outcome, "the sandbox to record the delivery")
    assert len(receiver.received) == 1 and b'"invitee.created"' in receiver.received[0][1]
    assert statuses == ["delivered"]
