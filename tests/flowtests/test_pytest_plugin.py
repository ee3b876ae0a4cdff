"""The pytest plugin: plain ``pytest`` runs the same flow test files (one item per case), a
failure reads as in ``relay test``, and hand-written tests get a sandbox and a runtime."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

from flowtest_support import EMBEDDED, FLOWS

HAND_WRITTEN = """\
import asyncio
import json
from pathlib import Path

import pytest

FLOWS = Path(__file__).resolve().parent.parent


@pytest.mark.relay_sandbox("calendly")
def test_a_flow_by_hand(relay_sandbox, relay_runtime, relay_requests):
    async def main():
        flow = relay_runtime.load_flow(FLOWS / "booking-follow-up.yaml")
        await relay_sandbox.act("book", {"email": "hand@example.org"})
        payload = json.loads((FLOWS / "samples" / "booking-follow-up.payload.json").read_text())
        config = {
            "calendly": {"clientId": "sandbox-client-id", "clientSecret": "sandbox-client-secret",
                         "useLiveServer": False},
            "organization": "TUANV24OXUSEUMYM",
            "followUpEventType": "HDWNG6N3G3J7OPUS",
        }
        try:
            return await relay_runtime.run(flow, config=config, payload=payload)
        finally:
            await relay_runtime.aclose()

    result = asyncio.run(main())
    assert result.ok
    assert relay_sandbox.facts()["invitees"]["last"]["email"] == "hand@example.org"
    assert any(r["path"] == "/users/me" and r["status"] == 200 for r in relay_requests)
"""


def pytest_run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rN", *args],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_plain_pytest_runs_the_flow_tests_beside_hand_written_ones(tmp_path: Path) -> None:
    flows = Path(shutil.copytree(FLOWS, tmp_path / "flows"))
    tests = flows / "tests"
    (tests / "test_by_hand.py").write_text(HAND_WRITTEN)
    (flows / "tally.yaml").write_text(
        "name: tally\nsteps:\n  - id: one\n    action: relay.value\n    inputs: {value: 1}\n"
    )
    (tests / "test_tally.yaml").write_text(
        textwrap.dedent(
            """\
            flow: ../tally.yaml
            cases:
              - name: holds
                expect: [steps.one.output.data == 1]
              - name: does not hold
                expect: [steps.one.output.data == 2]
            """
        )
    )
    (tests / "test_bad.yaml").write_text(
        "flow: ../tally.yaml\ncases: [{name: x, expect: [nope]}]\n"
    )
    (tests / "notes.yaml").write_text("not: a test file\n")
    (tests / "test_data.yaml").write_text("rows: [1, 2]\n")  # a project's own data, left alone
    (flows / "embedded.yaml").write_text(EMBEDDED)  # a flow with its own two tests
    shipped = sum(p.read_text().count("- name:") for p in FLOWS.glob("tests/test_*.yaml"))
    junit = tmp_path / "junit.xml"
    run = pytest_run(tmp_path, "flows", f"--junit-xml={junit}")
    assert run.returncode == 1, run.stdout + run.stderr
    # every shipped case, the hand-written test, the case that holds and the flow's own pass
    assert f"2 failed, {shipped + 4} passed" in run.stdout, run.stdout
    assert "assertion 'steps.one.output.data == 2' was false" in run.stdout
    assert "steps.one.output.data gave 1" in run.stdout
    assert (
        "test_bad.yaml:2:28: cases[0].expect[0]: assertion 'nope': unknown name 'nope'"
        in run.stdout
    )
    assert "Traceback" not in run.stdout
    assert "notes.yaml" not in run.stdout and "test_data.yaml" not in run.stdout
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("tests") == str(shipped + 6)
    assert suite.get("failures") == "2"
    names = {c.get("name") for c in suite.iter("testcase")}
    assert {"a no-show is looked up", "test_a_flow_by_hand", "does not hold", "says hello"} <= names
