"""The README's curl examples of the management API, run as written (with the live server's
port, a token and an execution id) by curl against a live server."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from relay_api import live

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
pytestmark = pytest.mark.asyncio


def curl_lines() -> list[str]:
    section = README.split("### Management API", 1)[1].split("\n### ", 1)[0]
    [block] = re.findall(r"^```shell\n(.*?)^```", section, re.S | re.M)
    lines = [line.strip() for line in block.splitlines() if line.strip()]
    assert lines[0].startswith("export RELAY_TOKEN=")
    return lines[1:]


async def test_the_readme_curl_examples_work(tmp_path: Path) -> None:
    curl = shutil.which("curl")
    if curl is None:
        if os.environ.get("CI") == "true":
            pytest.fail("curl is not installed (required under CI=true)")
        pytest.skip("curl is not installed")
    lines = curl_lines()
    assert len(lines) == 5 and all(line.startswith("curl ") for line in lines)
    async with live(tmp_path, instance="booking-follow-up") as (url, auth, execution):
        env = {
            "PATH": os.environ.get("PATH", ""),
            "RELAY_TOKEN": auth["Authorization"].removeprefix("Bearer "),
            "ID": execution,
        }
        for line in lines:
            command = line.replace("http://127.0.0.1:8000", url)
            run = await asyncio.to_thread(
                subprocess.run,
                ["bash", "-c", command],
                env=env,
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert run.returncode == 0, (line, run.stdout, run.stderr)
            assert run.stdout.startswith(("{", "[")), (line, run.stdout)
