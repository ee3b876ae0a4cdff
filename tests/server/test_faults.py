"""Faults that must not lose an acknowledged delivery or hide their cause: the store's database
failing or moved away (503 with Retry-After, one log line, the connection kept), requests that
never finish (timed out), a trailing slash, and text no consumer can read (lone surrogates)."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
import structlog
import uvicorn
from hypothesis import given
from hypothesis import strategies as st

from runtime import InProcessExecutor, Runtime, Service, create_app, open_store
from runtime.server.protocol import head_timeout_protocol
from runtime.store.grouped_writes import GroupCommitWrites

FLOW = """\
name: open hook
trigger: {webhook: {}}
steps:
  - id: remember
    action: relay.setState
    inputs: {scope: flow, key: last, value: "${{ trigger.body }}"}
  - id: answer
    action: relay.value
    inputs: {value: "${{ trigger.body }}"}
"""


class Setup:
    def __init__(self, home: Path, relay: Service, executor: InProcessExecutor, app: Any) -> None:
        self.home, self.relay, self.executor, self.app = home, relay, executor, app
        self.path = ""


@pytest_asyncio.fixture
async def setup(tmp_path: Path) -> AsyncIterator[Setup]:
    home = tmp_path / "home"
    flow = tmp_path / "hook.yaml"
    flow.write_text(FLOW)
    store = await open_store(data_dir=home)
    runtime = Runtime()
    relay = Service(runtime, store, base_url="http://relay.test")
    executor = InProcessExecutor(relay)
    await executor.start()
    app = create_app(relay, executor, body_timeout=0.3)
    found = Setup(home, relay, executor, app)
    instance = await relay.deploy(flow, {}, "hook")
    found.path = "/webhooks/" + instance.webhook_token
    yield found
    await executor.shutdown(5)
    await relay.aclose()
    await runtime.aclose()
    await store.close()


def client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://relay.test")


@pytest_asyncio.fixture
async def served(setup: Setup) -> AsyncIterator[tuple[Setup, int]]:
    """The app behind a real uvicorn server on a loopback port (the socket bound first)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    config = uvicorn.Config(
        setup.app,
        http=head_timeout_protocol(0.3),
        log_level="warning",
        access_log=False,
        lifespan="off",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    yield setup, sock.getsockname()[1]
    server.should_exit = True
    await task
    sock.close()


class FullDisk:
    """The group commit's SQLite connection, failing every INSERT as a full disk would."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def execute(self, sql: str, *args: Any) -> Any:
        if sql.lstrip().upper().startswith("INSERT"):
            raise sqlite3.OperationalError("database or disk is full")
        return self._conn.execute(sql, *args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.mark.asyncio
async def test_a_full_disk_is_503_with_one_log_line_on_a_kept_connection(
    served: tuple[Setup, int], caplog: pytest.LogCaptureFixture
) -> None:
    setup, port = served
    writes = setup.relay.store.writes
    assert isinstance(writes, GroupCommitWrites)
    group = writes.group
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", limits=limits) as http:

        def local_port(response: httpx.Response) -> Any:
            return response.extensions["network_stream"].get_extra_info("socket").getsockname()

        first = await http.post(setup.path, content=b'{"n": 1}')
        assert first.status_code == 202
        conn = group._conn
        assert conn is not None
        group._conn = FullDisk(conn)  # type: ignore[assignment]
        with structlog.testing.capture_logs() as logs:
            faulted = [await http.post(setup.path, content=b'{"n": %d}' % n) for n in range(3)]
            health = await http.get("/health")
        assert {r.status_code for r in faulted} == {503}
        assert {r.headers["retry-after"] for r in faulted} == {"10"}
        assert faulted[0].json() == {"error": "the store is unavailable"}
        assert health.status_code == 503 and health.json()["status"] == "unhealthy"
        assert "disk is full" in health.json()["reason"]
        said = [e for e in logs if e["event"].startswith("store unavailable")]
        assert len(said) == 1 and "relay.db" in said[0]["reason"]
        assert not [r for r in caplog.records if "Exception in ASGI" in r.getMessage()]
        group._conn = conn
        again = await http.post(setup.path, content=b'{"n": 9}')
        assert again.status_code == 202
        # one connection throughout: a 503 does not close it
        assert len({local_port(r) for r in [first, *faulted, again]}) == 1


@pytest.mark.asyncio
async def test_a_home_moved_while_serving_is_never_acknowledged(
    setup: Setup, tmp_path: Path
) -> None:
    async with client(setup.app) as http:
        assert (await http.post(setup.path, content=b'{"n": 1}')).status_code == 202
        setup.home.rename(tmp_path / "moved")
        for n in range(3):
            response = await http.post(setup.path, content=b'{"n": %d}' % n)
            assert response.status_code == 503 and response.headers["retry-after"] == "10"
        health = await http.get("/health")
        assert health.status_code == 503 and "moved, deleted or replaced" in health.json()["reason"]
        (tmp_path / "moved").rename(setup.home)
        assert (await http.post(setup.path, content=b'{"n": 5}')).status_code == 202
        assert (await http.get("/health")).json()["status"] == "ok"


@pytest.mark.asyncio
async def test_a_trailing_slash_is_the_same_url(setup: Setup) -> None:
    async with client(setup.app) as http:
        response = await http.post(setup.path + "/", content=b'{"n": 1}')
        assert response.status_code == 202
        assert (await http.post(setup.path + "/x/", content=b"{}")).status_code == 404


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.read(), timeout=30)  # until the server closes


@pytest.mark.asyncio
async def test_half_a_request_head_is_timed_out(served: tuple[Setup, int]) -> None:
    setup, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"POST {setup.path} HTTP/1.1\r\nHost: relay.test\r\nContent-Le".encode())
    await writer.drain()
    answer = await _read_all(reader)
    assert answer.startswith(b"HTTP/1.1 408 ")
    writer.close()
    # a connection that sends nothing at all is closed too
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    assert (await _read_all(reader)).startswith(b"HTTP/1.1 408 ")
    writer.close()


@pytest.mark.asyncio
async def test_a_body_that_never_finishes_is_timed_out(served: tuple[Setup, int]) -> None:
    setup, port = served
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = f"POST {setup.path} HTTP/1.1\r\nHost: relay.test\r\nContent-Length: 100\r\n\r\n"
    writer.write(head.encode() + b'{"n": 1')
    await writer.drain()
    answer = await _read_all(reader)
    assert answer.startswith(b"HTTP/1.1 408 ") and b"did not arrive in time" in answer
    writer.close()
    assert await setup.relay.store.list_executions() == []


@pytest.mark.asyncio
async def test_a_keep_alive_connection_still_serves_the_next_request(
    served: tuple[Setup, int],
) -> None:
    setup, port = served
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
        for n in range(3):
            assert (await http.post(setup.path, content=b'{"n": %d}' % n)).status_code == 202


text_with_surrogates = st.text(st.characters(codec=None, categories=None), max_size=40)


@given(name=text_with_surrogates, extra=st.dictionaries(text_with_surrogates, text_with_surrogates))
@pytest.mark.asyncio
async def test_any_unicode_in_a_body_runs_its_execution_to_completion(
    setup: Setup, name: str, extra: dict[str, str]
) -> None:
    """Bodies as JSON escapes allow them: lone surrogates (``"\\ud800"``) included."""
    body = json.dumps({"invitee": {"name": name}, **extra}).encode()
    async with client(setup.app) as http:
        response = await http.post(setup.path, content=body)
    assert response.status_code == 202, response.text
    execution_id = response.json()["execution_id"]
    await setup.relay.execute(execution_id, "test")
    await setup.executor.drain()  # the server's executor may have claimed it first
    row = await setup.relay.store.get_execution(execution_id)
    assert row is not None and row.result is not None
    assert row.status == "completed", row.result["error"]
    output = row.result["steps"][-1]["output"]["data"]
    json.dumps(output, ensure_ascii=False).encode("utf-8")  # valid text throughout


@pytest.mark.asyncio
async def test_a_lone_surrogate_in_a_name_becomes_the_replacement_character(
    setup: Setup,
) -> None:
    async with client(setup.app) as http:
        response = await http.post(setup.path, content=b'{"invitee": {"name": "Pat \\ud800"}}')
    execution_id = response.json()["execution_id"]
    assert await setup.relay.execute(execution_id, "test") == "completed"
    row = await setup.relay.store.get_execution(execution_id)
    assert row is not None and row.result is not None
    assert row.result["steps"][-1]["output"]["data"] == {"invitee": {"name": "Pat \ufffd"}}
