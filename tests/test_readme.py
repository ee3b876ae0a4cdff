"""Every example in README.md runs as written: flows validate, Python runs, `relay` command
lines run against a real sandbox with a fresh RELAY_HOME. An example this file does not know
how to run fails the test, so a new one is either runnable or listed with its reason."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import types
from pathlib import Path

import httpx
from relay_processes import relay_env, run_relay
from relay_sandbox_process import loopback_sandbox

from runtime import Runtime
from runtime.testing import assert_conformant

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")

#: Command lines not run here, each with the reason (and where they are tested instead).
NOT_RUN = {
    "relay serve --port 8000 --public-url https://relay.example.com": "runs until stopped "
    "(tests/server/test_serve_start.py starts it)",
    "relay execution 3f2a…": "an id placeholder (tests/runtime/test_cli_listing.py)",
    "relay replay 3f2a… --from-step route": "an id placeholder (tests/test_demo.py replays)",
    "relay serve --executor dramatiq --host 0.0.0.0 --port 8000": "needs the shared "
    "PostgreSQL and Redis of the example (tests/scale)",
    "relay worker --processes 4 --threads 8": "needs Redis (tests/scale)",
}


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.S | re.M)


def command_lines() -> list[str]:
    lines: list[str] = []
    for block in blocks("sh"):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            command = line.split("  #", 1)[0].split(" #", 1)[0].strip()
            if command.startswith("relay "):
                lines.append(" ".join(command.split()))
            else:
                assert command == "" or command.startswith(("export ", "python -c")), line
    return lines


def test_every_yaml_example_validates(tmp_path: Path) -> None:
    found = blocks("yaml")
    assert found, "the README shows a flow"
    for index, text in enumerate(found):
        path = tmp_path / f"example{index}.yaml"
        path.write_text(text)
        run = run_relay("validate", str(path), env=relay_env(tmp_path / "home"))
        assert run.returncode == 0, run.stdout + run.stderr


def test_the_python_examples_run(tmp_path: Path) -> None:
    found = blocks("python")
    embedding = [b for b in found if "run_sync" in b]
    component = [b for b in found if "register_components" in b]
    assert len(embedding) == 1 and len(component) == 1 and len(found) == 2
    run = subprocess.run(
        [sys.executable, "-c", embedding[0]],
        cwd=ROOT,
        env=relay_env(tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    first, second = run.stdout.splitlines()
    assert first == "completed Olivia Owner"
    assert second.startswith("completed ['me', 'route'")
    module = types.ModuleType("relay_acme")
    exec(compile(component[0], "README.md", "exec"), module.__dict__)  # our own README
    runtime = Runtime(plugins=[module], load_entry_points=False)
    assert_conformant(runtime.registry.require("acme").component)


def test_the_command_lines_run(tmp_path: Path) -> None:
    commands = command_lines()
    skipped = [c for c in commands if c in NOT_RUN]
    assert sorted(skipped) == sorted(NOT_RUN), "NOT_RUN lists only lines the README has"
    work = tmp_path / "work"
    work.mkdir()
    (work / "flows").symlink_to(ROOT / "flows")
    env = relay_env(tmp_path / "home")
    with loopback_sandbox(tmp_path / "sandbox-home") as url:
        organization = httpx.get(f"{url}/_sandbox/state").json()["organization"]["uri"]
        # the files the examples name, as their comments describe them
        (work / "calendly.yaml").write_text(
            "clientId: sandbox-client-id\nclientSecret: sandbox-client-secret\n"
            f"useLiveServer: false\nsandboxUrl: {url}\n"
        )
        (work / "acme.yaml").write_text(
            f"calendly: {{use: acme}}\norganization: {organization}\n"
            "followUpEventType: HDWNG6N3G3J7OPUS\n"
        )
        ran = 0
        for command in commands:
            if command in NOT_RUN:
                continue
            run = run_relay(*shlex.split(command)[1:], env=env, timeout=120, cwd=work)
            assert run.returncode == 0, f"{command}\n{run.stdout[-2000:]}{run.stderr[-2000:]}"
            assert "Traceback" not in run.stderr
            ran += 1
    assert ran >= 4
