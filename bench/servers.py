"""Servers the benchmarks run in child processes, each on loopback only:

- ``sandbox PORT EVENTS``: the Calendly sandbox (rate limit raised) under uvicorn; prints one JSON
  line first (a personal access token and the ids the flows need).
- ``bare PORT SECRET``: the baseline webhook endpoint: Starlette + uvicorn, verifies the
  ``X-Relay-Signature`` HMAC and answers 202, nothing else.
- ``null PORT``: a raw asyncio server answering every request with a fixed 202; it measures the
  load generator's own ceiling (no framework, no parsing beyond finding the body's end).

uvicorn runs with the settings ``relay serve`` uses (access log off, log level warning).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import sys

LOOPBACK = "127.0.0.1"


def _uvicorn(app: object, port: int) -> None:
    import uvicorn

    uvicorn.run(app, host=LOOPBACK, port=port, access_log=False, log_level="warning")  # type: ignore[arg-type]


def sandbox(port: int, events: int) -> None:
    from components.calendly.sandbox import Sandbox, SandboxConfig

    sb = Sandbox(
        SandboxConfig(
            seed=0,
            events=events,
            base_url=f"http://{LOOPBACK}:{port}",
            rate_limit_per_minute=1_000_000_000,
            token_requests_per_minute=1_000_000,
        )
    )
    st = sb.state
    event = next(e for e in st.events.values() if e.invitee_uuids and e.org_uuid == st.org_uuid)
    info = {
        "base_url": sb.config.base_url,
        "token": sb.personal_access_token(),
        "org_uri": sb.org_uri(),
        "owner": st.owner_uuid,
        "events": [e.uuid for e in list(st.events.values())[:2]],
        "event": event.uuid,
        "invitee": event.invitee_uuids[0],
        "event_type": event.event_type_uuid,
        "event_types": [t.uuid for t in list(st.event_types.values())[:2]],
        "membership": next(iter(st.memberships)),
        "schedule": next(iter(st.schedules)),
        "routing_form": next(iter(st.routing_forms)),
        "org_events": sum(1 for e in st.events.values() if e.org_uuid == st.org_uuid),
    }
    print(json.dumps(info), flush=True)
    _uvicorn(sb.app, port)


def bare(port: int, secret: str) -> None:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    key = secret.encode()

    async def webhook(request: Request) -> Response:
        body = await request.body()
        given = request.headers.get("x-relay-signature", "")
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.encode(), expected.encode()):
            return JSONResponse({"error": "bad signature"}, status_code=401)
        return JSONResponse({"status": "accepted"}, status_code=202)

    _uvicorn(Starlette(routes=[Route("/webhooks/{token}", webhook, methods=["POST"])]), port)


class _Null(asyncio.Protocol):
    ANSWER = (
        b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\ncontent-type: application/json\r\n\r\n{}"
    )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].lower()
            at = head.find(b"content-length:")
            length = int(head[at + 15 :].split(b"\r\n", 1)[0]) if at >= 0 else 0
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            self.transport.write(self.ANSWER)  # type: ignore[attr-defined]


def null(port: int) -> None:
    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(_Null, LOOPBACK, port)
        async with server:
            await server.serve_forever()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main())


if __name__ == "__main__":
    kind, *args = sys.argv[1:]
    if kind == "sandbox":
        sandbox(int(args[0]), int(args[1]))
    elif kind == "bare":
        bare(int(args[0]), args[1])
    elif kind == "null":
        null(int(args[0]))
    else:
        raise SystemExit(f"unknown server {kind!r}")
