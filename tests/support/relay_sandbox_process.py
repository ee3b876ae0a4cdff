"""A real ``relay sandbox`` on a loopback port, for tests that need one to outlive a command."""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from relay_processes import RELAY, free_port, relay_env


@contextlib.contextmanager
def loopback_sandbox(home: Path) -> Iterator[str]:
    """``relay sandbox`` on a free port; yields its URL once it answers; killed afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [RELAY, "sandbox", "--port", str(port)],
        env=relay_env(home),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"relay sandbox exited ({process.returncode})")
            try:
                if httpx.get(f"{url}/_sandbox/state", timeout=0.5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("relay sandbox did not answer within 30 s")
            time.sleep(0.05)  # polling another process's readiness, not synchronising on time
        yield url
    finally:
        process.kill()
        process.wait(timeout=10)
