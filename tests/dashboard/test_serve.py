"""``relay serve`` names the dashboard's URL as it starts, and serves it there; with
``--no-api`` there is neither."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
from relay_processes import RELAY, free_port, relay_env


def served_lines(home: Path, *args: str) -> tuple[list[str], int]:
    port = free_port()
    process = subprocess.Popen(
        [RELAY, "serve", "--port", str(port), *args],
        env=relay_env(home, RELAY_PUBLIC_URL=f"http://127.0.0.1:{port}"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = [process.stdout.readline()]  # the line that says it serves
        if "--no-api" not in args:
            lines.append(process.stdout.readline())
        signin = httpx.get(f"http://127.0.0.1:{port}/dashboard/signin", timeout=10)
        return [*lines, str(signin.status_code)], port
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def test_serve_prints_the_dashboards_url_and_serves_it(tmp_path: Path) -> None:
    lines, port = served_lines(tmp_path)
    assert lines[0].startswith(f"relay serving on http://127.0.0.1:{port}")
    assert lines[1].startswith(f"dashboard http://127.0.0.1:{port}/dashboard/")
    assert lines[2] == "200"


def test_no_api_means_no_dashboard(tmp_path: Path) -> None:
    lines, _port = served_lines(tmp_path, "--no-api")
    assert lines[0].startswith("relay serving on") and lines[-1] == "404"
