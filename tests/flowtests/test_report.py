"""Reports: JUnit XML stays well-formed whatever the names and messages hold."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.flowtests.report import failure_text, junit_xml
from runtime.flowtests.runner import CaseResult, Failure
from runtime.flowtests.suite import SuiteResult


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=40), st.text(max_size=80), st.sampled_from(["passed", "failed", "error"]))
def test_junit_xml_is_well_formed_for_any_text(name: str, message: str, outcome: str) -> None:
    result = CaseResult(f"f.yaml::{name}", "flows/tests/f.yaml", name, outcome, 0.01)
    if outcome == "failed":
        result.failures = [Failure("status == 'x'", "f.yaml:1:1", message, [message])]
    elif outcome == "error":
        result.error = message
    root = ET.fromstring(junit_xml(SuiteResult(results=[result])))
    (case,) = root.iter("testcase")
    assert len(case.get("name") or "") == len(name)
    if outcome != "passed":
        (child,) = list(case)
        assert child.tag == ("failure" if outcome == "failed" else "error")
        assert (child.text or "").startswith(f"{outcome.upper()} ")
    assert failure_text(result).startswith(outcome.upper())
