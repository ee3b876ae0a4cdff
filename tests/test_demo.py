"""`relay demo` end to end, and the promise that no secret leaks from it."""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess
from pathlib import Path

import httpx
from relay_processes import RELAY, relay_env, run_relay

from runtime import open_store


def demo(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """``relay demo --no-dashboard ARGS`` (it tells the story and stops) with its home in
    ``tmp_path / "demo"`` (``env`` added)."""
    home = str(tmp_path / "demo")
    return run_relay(
        "demo", "--no-dashboard", "--home", home, *args, env=relay_env(tmp_path, **env), timeout=240
    )


async def _secrets(home: Path) -> dict[str, str]:
    """The demo's secrets, read back through the store (which decrypts them)."""
    store = await open_store(None, data_dir=home)
    try:
        found = await store.get_connection("sandbox")
        assert found is not None
        token = await store.tokens.load("connection:sandbox")
        assert token is not None
        instance = await store.get_instance("demo")
        assert instance is not None
        return {
            "client secret": found[2]["clientSecret"],
            "access token": token.access_token,
            "refresh token": token.refresh_token or "",
            "signing key": instance.deploy_state["signingKey"],
        }
    finally:
        await store.close()


async def _execution_ids(home: Path) -> list[str]:
    store = await open_store(None, data_dir=home)
    try:
        return [row.id for row in await store.list_executions(limit=100)]
    finally:
        await store.close()


def test_demo_runs_and_leaks_no_secret(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    run = demo(tmp_path, "--bookings", "4", RELAY_LOG_LEVEL="debug", COLUMNS="80")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "executions {'completed': 8}" in run.stdout
    # at 80 columns every execution id is printed whole (it is what `relay execution` takes)
    ids = asyncio.run(_execution_ids(home))
    assert len(ids) == 9  # eight deliveries and the replay
    assert all(i in run.stdout for i in ids), run.stdout
    assert "replayed" in run.stdout
    # the command it suggests next can be run as printed (relay is not on the PATH here)
    suggested = next(x for x in run.stdout.splitlines() if x.strip().endswith(" executions"))
    program = suggested.split()[1]
    assert program == RELAY or shutil.which(program) is not None, suggested
    assert run.stderr  # debug logs were written, so the check below means something
    secrets = asyncio.run(_secrets(home))
    assert all(len(value) >= 16 for value in secrets.values())
    stored = b"".join(p.read_bytes() for p in home.iterdir() if p.name.startswith("relay.db"))
    for what, value in secrets.items():
        assert value not in run.stdout, f"{what} in CLI output"
        assert value not in run.stderr, f"{what} in logs"
        assert value.encode() not in stored, f"{what} in the database file"


def test_demo_fills_the_config_of_another_flow(tmp_path: Path) -> None:
    flow = Path(__file__).resolve().parents[1] / "flows" / "cancellation-cleanup.yaml"
    run = demo(tmp_path, "--flow", str(flow), "--bookings", "3")
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "executions {'completed': 3}" in run.stdout  # two cancellations, one reschedule


def test_demo_names_the_config_it_cannot_fill(tmp_path: Path) -> None:
    flow = tmp_path / "needs.yaml"
    flow.write_text(
        "name: needs more\nconfig:\n  region: {type: string}\n  limit: {type: integer}\n"
        "  note: {type: string, default: hi}\nsteps:\n"
        "  - {id: a, action: relay.value, inputs: {value: '${{ config.region }}'}}\n"
    )
    run = demo(tmp_path, "--flow", str(flow))
    assert run.returncode == 1
    assert "Traceback" not in run.stdout + run.stderr
    [line] = [x for x in run.stdout.splitlines() if x.startswith("error:")]
    assert line.startswith(
        f"error: {flow}: the demo cannot fill config region (string), limit (integer): it fills"
    )


def test_demo_keeps_the_dashboard_up_until_ctrl_c(tmp_path: Path) -> None:
    home = tmp_path / "demo"
    process = subprocess.Popen(
        [RELAY, "demo", "--home", str(home), "--bookings", "3"],
        env=relay_env(tmp_path, COLUMNS="200"),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:  # ends with the process, should it stop early
            lines.append(line)
            if "sign in with the API token" in line:
                break
        printed = "".join(lines)
        assert "executions {'completed': 7}" in printed, printed
        url = next(x.split()[1] for x in lines if x.startswith("dashboard "))
        token = lines[-1].split("API token ")[1].strip()
        with httpx.Client() as client:
            form = client.get(url + "signin")
            csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
            assert csrf is not None
            signed = client.post(
                url + "signin", data={"csrf": csrf.group(1), "token": token}, follow_redirects=True
            )
            assert signed.status_code == 200 and 'data-instance="demo"' in signed.text
            executions = client.get(url + "executions?instance=demo")
            assert executions.text.count('data-execution="') == 8  # seven deliveries, one replay
        process.send_signal(signal.SIGINT)
        rest, _ = process.communicate(timeout=60)
        assert process.returncode == 0, rest
        assert "stopped" in rest and "Traceback" not in rest
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
