"""Shared pieces: statistics, loopback servers in child processes, machine description."""

from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import attrs

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
LOOPBACK = "127.0.0.1"


@attrs.define
class Figure:
    """One measured figure: a headline ratio, the line printed, and details for the record."""

    name: str
    title: str
    line: str
    rows: list[tuple[str, str]]
    limits: str
    ok: bool | None = None


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def spread(values: Sequence[float], digits: int = 3) -> str:
    """``median [min..max]`` of a series (the spread of rounds, not a confidence interval)."""
    return f"{median(values):.{digits}f} [{min(values):.{digits}f}..{max(values):.{digits}f}]"


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_for_port(
    port: int, timeout: float = 30.0, proc: subprocess.Popen[Any] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection((LOOPBACK, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {LOOPBACK}:{port} after {timeout}s")


@contextlib.contextmanager
def child_server(
    args: list[str],
    port: int,
    *,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    info: bool = False,
    timeout: float = 60.0,
) -> Iterator[dict[str, Any]]:
    """Run a server in a child process (its own core on a 2-core machine), wait until it
    listens on ``port``, yield the JSON line it printed first (``info``), then stop it."""
    proc = subprocess.Popen(
        args,
        stdout=subprocess.PIPE if info else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
        cwd=cwd or ROOT,
        text=True,
    )
    try:
        data: dict[str, Any] = {}
        if info:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if not line:
                raise RuntimeError(
                    f"server printed nothing: {proc.stderr.read() if proc.stderr else ''}"
                )
            data = json.loads(line)
        wait_for_port(port, timeout, proc)
        yield data
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def machine() -> str:
    cores = os.cpu_count()
    with contextlib.suppress(AttributeError):
        cores = len(os.sched_getaffinity(0))
    return f"{cores} cores (nproc), {platform.machine()}, Python {platform.python_version()} ({platform.system()})"  # noqa: E501


def fmt_rate(value: float) -> str:
    return f"{value:,.0f}/s"
