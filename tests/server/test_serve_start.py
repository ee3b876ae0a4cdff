"""``relay serve`` refuses to start where it would lose or hide something, with one line each:
a busy port (before any work is claimed), keys that cannot decrypt the store, a corrupt
database, a key file without its database; and it names instances registered elsewhere."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest
from relay_keys import fresh_key
from relay_processes import free_port, relay_env, run_relay, start_server, stop

from runtime import Runtime, Service, open_store

FLOW = """\
name: open hook
trigger: {webhook: {}}
steps:
  - {id: answer, action: relay.value, inputs: {value: "${{ trigger.body }}"}}
"""


async def _deploy(home: Path, base_url: str = "http://old.test:9") -> str:
    """An instance ``hook`` deployed at ``base_url``, with one pending execution."""
    flow = home.parent / "hook.yaml"
    flow.write_text(FLOW)
    store = await open_store(data_dir=home)
    runtime = Runtime()
    relay = Service(runtime, store, base_url=base_url)
    try:
        instance = await relay.deploy(flow, {}, "hook")
        await relay.start_manual("hook", {"n": 1})
        return relay.webhook_url(instance)
    finally:
        await relay.aclose()
        await runtime.aclose()
        await store.close()


def _serve(home: Path, port: int, **env: str) -> subprocess.CompletedProcess[str]:
    return run_relay("serve", "--port", str(port), env=relay_env(home, **env), timeout=120)


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr and "serving" not in result.stdout
    return lines[0]


def _pending(home: Path) -> list[tuple[str, int]]:
    with sqlite3.connect(home / "relay.db") as conn:
        return list(conn.execute("SELECT status, attempts FROM executions"))


def test_a_busy_port_fails_in_one_line_before_any_work_is_claimed(tmp_path: Path) -> None:
    home = tmp_path / "home"
    asyncio.run(_deploy(home))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        line = _one_line(_serve(home, port))
    assert line.startswith(f"error: port {port} is in use")
    assert _pending(home) == [("pending", 0)]  # not resumed, not claimed


def test_keys_that_cannot_decrypt_the_store_are_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    asyncio.run(_deploy(home))
    line = _one_line(_serve(home, free_port(), RELAY_SECRET_KEYS=fresh_key()))
    assert "cannot be decrypted with the configured keys (RELAY_SECRET_KEYS)" in line
    assert _pending(home) == [("pending", 0)]


def test_a_key_file_without_its_database_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    asyncio.run(_deploy(home))
    (home / "relay.db").rename(tmp_path / "elsewhere.db")
    for suffix in ("-wal", "-shm"):
        (home / f"relay.db{suffix}").unlink(missing_ok=True)
    line = _one_line(_serve(home, free_port()))
    assert "secret.key exists but the database" in line and "is missing" in line
    assert not (home / "relay.db").exists()


def test_a_corrupt_database_is_refused_and_named_by_every_command(tmp_path: Path) -> None:
    home = tmp_path / "home"
    asyncio.run(_deploy(home))
    with sqlite3.connect(home / "relay.db") as conn:
        conn.executemany(
            "INSERT INTO executions (id, instance, status, flow_text, flow_version, payload,"
            " created_at, attempts) VALUES (?, 'hook', 'completed', ?, 1, '{}', 1.0, 1)",
            [(f"e{n:05}", "x" * 500) for n in range(300)],
        )
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    path = home / "relay.db"
    size = path.stat().st_size
    with path.open("r+b") as f:  # the schema's pages stay, the executions' do not
        start = size // 2 // 4096 * 4096
        f.seek(start)
        f.write(b"\xff" * (size - start))
    line = _one_line(_serve(home, free_port()))
    assert f"{path}: not a relay database or corrupt" in line
    listing = run_relay("executions", "--limit", "1000", env=relay_env(home))
    assert f"{path}: not a relay database or corrupt" in _one_line(listing)


@pytest.mark.timeout(120)
def test_instances_registered_at_another_url_are_named_at_start(tmp_path: Path) -> None:
    home = tmp_path / "home"
    old = asyncio.run(_deploy(home, "http://old.test:9"))
    port = free_port()
    server = start_server(home, port)
    err = stop(server)
    new = old.replace("http://old.test:9", f"http://127.0.0.1:{port}")
    warnings = [line for line in err.splitlines() if line.startswith("warning: instance hook")]
    assert len(warnings) == 1
    assert old in warnings[0] and new in warnings[0] and "relay instances sync hook" in warnings[0]
