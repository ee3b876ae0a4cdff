"""A real ``relay sandbox`` on a loopback port, for tests that need one to outlive a command."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

from relay_processes import RELAY, answering, free_port, kill_hard, relay_env
from relay_waiting import wait_until


@contextlib.contextmanager
def loopback_sandbox(home: Path, *args: str, port: int | None = None) -> Iterator[str]:
    """``relay sandbox`` (with ``args``) on ``port`` or a free one; yields its URL once it
    answers; killed afterwards (SIGKILL: no shutdown hook runs)."""
    port = free_port() if port is None else port
    process = subprocess.Popen(
        [RELAY, "sandbox", "--port", str(port), *args],
        env=relay_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"

    answers = answering(process, f"{url}/_sandbox/state", "relay sandbox")
    try:
        wait_until(answers, "relay sandbox to answer")
        yield url
    finally:
        kill_hard(process)
