"""``relay test``: the shipped suite passes with full flow coverage; a broken flow fails naming
the assertion and the step; JUnit XML, coverage reports, -k, --update and workers."""

from __future__ import annotations

import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from flowtest_support import FLOWS

from runtime.cli import cli


def relay_test(*args: str) -> Result:
    return CliRunner().invoke(cli, ["test", *args])


@pytest.fixture
def flows(tmp_path: Path) -> Path:
    """A copy of the shipped flows with their tests and samples."""
    return Path(shutil.copytree(FLOWS, tmp_path / "flows"))


def test_the_shipped_suite_passes_with_every_step_and_branch_covered(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    report = tmp_path / "cov.json"
    result = relay_test(
        str(FLOWS),
        "--junit-xml",
        str(junit),
        "--cov-report",
        f"json:{report}",
        "--cov-fail-under",
        "100",
    )
    assert result.exit_code == 0, result.output
    cases = len([line for line in result.output.splitlines() if line.startswith("PASSED ")])
    assert cases >= 10 and f"{cases} passed in " in result.output
    data = json.loads(report.read_text())
    assert data["percent"] == 100.0
    assert {Path(p).name for p in data["flows"]} == {
        "booking-follow-up.yaml",
        "cancellation-cleanup.yaml",
        "routing-form-sync.yaml",
    }
    booking = next(v for p, v in data["flows"].items() if p.endswith("booking-follow-up.yaml"))
    assert set(booking["branch"]) == {"route -> booked", "route -> canceled", "route -> else"}
    assert all(booking["step"].values()) and booking["missing"] == []
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None
    assert suite.get("tests") == str(cases) and suite.get("failures") == "0"
    assert len(suite.findall("testcase")) == cases


def test_a_broken_flow_fails_naming_the_assertion_and_the_step(flows: Path, tmp_path: Path) -> None:
    flow = flows / "booking-follow-up.yaml"
    text = flow.read_text()
    broken = text.replace(
        "uuid: ${{ trigger.body.payload.scheduled_event.uri }}\n          - id: invitee",
        "uuid: ${{ trigger.body.payload.uri }}\n          - id: invitee",
    )
    assert broken != text
    flow.write_text(broken)
    junit = tmp_path / "junit.xml"
    result = relay_test(str(flows), "-k", "booking", "--junit-xml", str(junit))
    assert result.exit_code == 1
    assert "FAILED " in result.output and "Traceback" not in result.output
    assert (
        "test_booking_follow_up.yaml:15:9: assertion \"status == 'completed'\" was false"
        in result.output
    )
    assert "the run failed at step route.booked.meeting: " in result.output
    assert (
        "route.booked.meeting" in result.output and "failed    calendly.getEvent" in result.output
    )
    failures = ET.parse(junit).getroot().findall(".//failure")
    assert failures and any("route.booked.meeting" in (f.text or "") for f in failures)


def test_coverage_under_the_bar_fails_and_names_what_is_missing(tmp_path: Path) -> None:
    html = tmp_path / "html"
    result = relay_test(
        str(FLOWS),
        "-k",
        "booking_follow and new",
        "--cov-fail-under",
        "90",
        "--cov-report",
        f"html:{html}",
    )
    assert result.exit_code == 1
    assert "1 passed in " in result.output
    assert "is under --cov-fail-under 90" in result.output
    page = (html / "index.html").read_text()
    assert "<tr class=miss><td>branch</td><td>route -&gt; canceled</td><td>0</td></tr>" in page
    assert "<tr class=hit><td>branch</td><td>route -&gt; booked</td><td>1</td></tr>" in page


def test_k_selects_by_file_and_name_and_a_bad_k_is_one_error_line() -> None:
    result = relay_test(str(FLOWS), "-k", "routing and not sample")
    assert result.exit_code == 0, result.output
    assert [
        line.split("::")[1] for line in result.output.splitlines() if line.startswith("PASSED")
    ] == ["a new submission is read with its form and the lead gets a booking link"]
    result = relay_test(str(FLOWS), "-k", "routing and (")
    assert result.exit_code == 1
    assert result.output.strip() == "error: -k 'routing and (': ends too early"
    result = relay_test(str(FLOWS), "--cov-report", "xml")
    assert result.exit_code == 2 and "give json or html" in result.output


def test_a_bad_test_file_is_every_problem_at_its_place(flows: Path) -> None:
    (flows / "tests" / "test_bad.yaml").write_text(
        "flow: ../booking-follow-up.yaml\ncases:\n  - name: a\n    expect: [stauts == 1]\n"
    )
    result = relay_test(str(flows), "-k", "routing")
    assert result.exit_code == 1
    assert (
        f"{flows / 'tests' / 'test_bad.yaml'}:4:14: cases[0].expect[0]: assertion 'stauts == 1': "
        "unknown name 'stauts' (did you mean 'status'?)"
    ) in result.output
    assert "1 problem(s) in test files" in result.output and "Traceback" not in result.output


def test_no_test_files_is_a_failure(tmp_path: Path) -> None:
    result = relay_test(str(tmp_path))
    assert result.exit_code == 1 and "no cases" in result.output
    result = relay_test(str(tmp_path / "nowhere"))
    assert result.exit_code == 1 and "no such file or folder" in result.output


def test_update_stores_the_snapshots_and_then_they_hold(flows: Path) -> None:
    snapshots = flows / "tests" / "test_booking_follow_up.snapshots.json"
    snapshots.unlink()
    result = relay_test(str(flows), "-k", "gathers")
    assert result.exit_code == 1 and "no snapshot stored yet" in result.output
    result = relay_test(str(flows), "-k", "gathers", "--update")
    assert result.exit_code == 0, result.output
    assert f"snapshots written: {snapshots}" in result.output
    stored = json.loads(snapshots.read_text())
    (case,) = stored.values()
    assert (
        case["steps.followUpShare.output.data.resource.share_override"]["name"]
        == "Follow-up with Pat Lee"
    )
    assert relay_test(str(flows), "-k", "gathers").exit_code == 0
    snapshots.write_text(json.dumps({next(iter(stored)): {next(iter(case)): {"name": "other"}}}))
    result = relay_test(str(flows), "-k", "gathers")
    assert result.exit_code == 1 and "differs from its snapshot" in result.output
    assert 'stored {"name": "other"}' in result.output


def test_two_workers_give_the_same_results() -> None:
    one = relay_test(str(FLOWS))
    two = relay_test(str(FLOWS), "-n", "2")
    assert one.exit_code == two.exit_code == 0, two.output
    assert [line for line in one.output.splitlines() if line.startswith("PASSED")] == [
        line for line in two.output.splitlines() if line.startswith("PASSED")
    ]
    assert "100%" in two.output
