"""Running relay as real OS processes in tests: free ports, start when ready, clean kills."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import httpx
from relay_waiting import wait_until

RELAY = str(Path(sys.executable).with_name("relay"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def relay_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAY_")}
    env.update({"RELAY_HOME": str(home), **extra})
    return env


def run_relay(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``relay ARGS`` run to its end (in ``cwd``), its output captured as text; ``env`` is the
    whole environment (default: this process's)."""
    return subprocess.run(
        [RELAY, *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def deploy(home: Path, flow: Path, name: str, config: Path, env: dict[str, str]) -> str:
    """``relay deploy FLOW --config CONFIG --name NAME`` with ``env`` (the whole environment);
    returns the webhook URL it prints (fails the test if the deploy fails)."""
    done = run_relay("deploy", str(flow), "--config", str(config), "--name", name, env=env)
    assert done.returncode == 0, done.stderr
    return next(
        line.split(": ", 1)[1]
        for line in done.stdout.splitlines()
        if line.startswith("webhook URL")
    )


def answering(process: subprocess.Popen[bytes], url: str, name: str) -> Callable[[], bool]:
    """A check for ``wait_until``: whether ``url`` answers 200 yet; raises once ``process``
    (called ``name``) has exited, with what it wrote to a piped stderr."""

    def check() -> bool:
        if process.poll() is not None:
            err = process.stderr.read().decode() if process.stderr else ""
            raise RuntimeError(f"{name} exited ({process.returncode}): {err}")
        try:
            return httpx.get(url, timeout=0.5).status_code == 200
        except httpx.HTTPError:
            return False

    return check


def start_server(
    home: Path, port: int, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """``relay serve`` on ``port``; returns once /health answers (or raises)."""
    process = subprocess.Popen(
        [RELAY, "serve", "--port", str(port), *args],
        env=relay_env(home, RELAY_PUBLIC_URL=f"http://127.0.0.1:{port}", **(env or {})),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    healthy = answering(process, f"http://127.0.0.1:{port}/health", "relay serve")
    try:
        wait_until(healthy, "relay serve to answer /health")
    except AssertionError:
        process.kill()
        raise
    return process


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes]) -> str:
    process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate()
    return err.decode() if err else ""
