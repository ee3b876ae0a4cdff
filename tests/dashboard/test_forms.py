"""The dashboard's edges: any search query string and any sign-in target are answered with
named problems or a path inside the dashboard, never an exception."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from runtime.dashboard.app import _safe_next
from runtime.dashboard.forms import STATUSES, replay_choice, search, selected

FIELDS = ("instance", "status", "version", "since", "until", "error", "cursor", "other")


@given(st.dictionaries(st.sampled_from(FIELDS), st.text(max_size=500)))
def test_any_search_is_a_filter_or_named_problems(query: dict[str, str]) -> None:
    params, problems = search(query)
    assert set(problems) <= set(FIELDS)
    assert all(isinstance(m, str) and m for m in problems.values())
    assert params["status"] is None or params["status"] in STATUSES
    version = params["version"]
    assert version is None or 1 <= version <= 2**31 - 1
    for name in ("instance", "error"):
        value = params[name]
        assert value is None or (len(value) <= 200 and "\x00" not in value)


def test_search_names_each_bad_field() -> None:
    _params, problems = search(
        {"status": "done", "version": "-1", "since": "yesterday", "error": "x" * 201}
    )
    assert set(problems) == {"status", "version", "since", "error"}
    params, problems = search({"since": "2026-01-02T03:04", "version": "3", "status": "failed"})
    assert problems == {} and params["version"] == 3 and params["since"] == 1767323040.0


@given(st.text(max_size=300))
def test_a_sign_in_target_stays_inside_the_dashboard(target: str) -> None:
    found = _safe_next(target, "/dashboard")
    assert found == "/dashboard/" or found == target
    assert found.startswith("/dashboard") and "//" not in found and "\\" not in found


def test_replay_choices_and_selections_are_checked() -> None:
    assert replay_choice({"from_step": ["busy"], "flow_version": ["current"]}) == (
        "busy",
        "current",
        None,
    )
    assert replay_choice({"flow_version": ["newest"]})[2] == "flow_version: original or current"
    assert selected({"ids": ["a", "a", "b", "", "x" * 65]}) == (["a", "b"], None)
    assert selected({})[1] == "tick at least one execution to replay"
    assert selected({"ids": [str(i) for i in range(1001)]})[1] == "at most 1000 executions at once"
