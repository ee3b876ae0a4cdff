"""Plain HTTP over loopback: the OAuth dance, /users/me, rotation; a signed webhook."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import parse_qs, urlsplit

import httpx
from relay_processes import free_port
from relay_uvicorn import ServerThread
from sandbox_client import pkce_pair
from webhook_receiver import WebhookReceiver

from components.calendly.sandbox import Sandbox, SandboxConfig

CLIENT, SECRET = "sandbox-client-id", "sandbox-client-secret"


def test_oauth_flow_over_http() -> None:
    port = free_port()
    sb = Sandbox(SandboxConfig(seed=4, events=30, base_url=f"http://127.0.0.1:{port}"))
    with ServerThread(sb.app, port) as server, httpx.Client(base_url=server.url) as http:
        verifier, challenge = pkce_pair("loopback-verifier-" * 3)
        redirect = "http://127.0.0.1:1/cb"
        r = http.get(
            "/oauth/authorize",
            params={
                "client_id": CLIENT,
                "response_type": "code",
                "redirect_uri": redirect,
                "state": "st8",
                "code_challenge": challenge,
                "code_challenge_method": "S256",
            },
        )
        assert r.status_code == 302
        query = parse_qs(urlsplit(r.headers["location"]).query)
        assert query["state"] == ["st8"]
        tok = http.post(
            "/oauth/token",
            data={
                "grant_type": "authorization_code",
                "code": query["code"][0],
                "redirect_uri": redirect,
                "code_verifier": verifier,
            },
            auth=(CLIENT, SECRET),
        ).json()
        me = http.get("/users/me", headers={"Authorization": f"Bearer {tok['access_token']}"})
        assert me.status_code == 200
        assert me.json()["resource"]["uri"] == f"{server.url}/users/{sb.owner.uuid}"
        assert me.headers["x-ratelimit-limit"] == "500"
        refreshed = http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tok["refresh_token"]},
            auth=(CLIENT, SECRET),
        )
        assert refreshed.status_code == 200
        old = http.post(
            "/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": tok["refresh_token"]},
            auth=(CLIENT, SECRET),
        )
        assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
        new_access = refreshed.json()["access_token"]
        assert (
            http.get("/users/me", headers={"Authorization": f"Bearer {new_access}"}).status_code
            == 200
        )


def test_booking_webhook_reaches_loopback_receiver_signed() -> None:
    receiver = WebhookReceiver()
    rx_port, sb_port = free_port(), free_port()
    sb = Sandbox(
        SandboxConfig(
            seed=4,
            events=30,
            base_url=f"http://127.0.0.1:{sb_port}",
            webhook_signing_key="loop-key",
        )
    )
    with (
        ServerThread(receiver.app, rx_port) as rx,
        ServerThread(sb.app, sb_port) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        token = http.post("/_sandbox/tokens", json={"kind": "pat"}).json()["access_token"]
        auth = {"Authorization": f"Bearer {token}"}
        r = http.post(
            "/webhook_subscriptions",
            headers=auth,
            json={
                "url": f"{rx.url}/hook",
                "events": ["invitee.created"],
                "organization": sb.organization.uri.replace(sb.config.base_url, server.url),
                "scope": "organization",
            },
        )
        assert r.status_code == 201, r.text
        booked = http.post("/_sandbox/book", json={"email": "loop@example.org"})
        assert booked.status_code == 201
        # a bound on the wait, not a speed claim: timing goals live in bench/ (the delivery
        # typically arrives in a few milliseconds)
        assert receiver.arrived.wait(timeout=10.0), "webhook not delivered"
        headers, body = receiver.received[0]
        t, v1 = (p.split("=", 1)[1] for p in headers["calendly-webhook-signature"].split(","))
        expected = hmac.new(b"loop-key", f"{t}.".encode() + body, hashlib.sha256).hexdigest()
        assert hmac.compare_digest(v1, expected)
        assert abs(int(t) - time.time()) < 60
        # The receiver has answered; the sandbox records the outcome when its delivery task
        # ends, on the server's loop.
        server.call(sb.drain_webhooks())
        assert http.get("/_sandbox/deliveries").json()["collection"][0]["status"] == "delivered"
