"""Flow coverage: steps (loop bodies once, whatever their index), branch cases and ``else``,
``on_error: continue`` paths, summed over a suite."""

from __future__ import annotations

from flowtest_support import TALLY, Write

from runtime import Runtime
from runtime.flowtests.coverage import universe
from runtime.flowtests.suite import run_suite


def test_the_items_of_a_flow() -> None:
    flow = Runtime().load_flow_text(TALLY, "tally.yaml")
    assert universe(flow) == [
        ("step", "items"),
        ("step", "each"),
        ("step", "each[].double"),
        ("step", "pick"),
        ("branch", "pick -> many"),
        ("step", "pick.many.remember"),
        ("branch", "pick -> else"),
        ("step", "pick.else.few"),
        ("step", "risky"),
        ("on_error", "risky"),
    ]


def _suite(write: Write, *payloads: str) -> dict[str, object]:
    cases = "".join(
        f"  - name: case {i}\n    payload: {p}\n    expect: [status == 'completed']\n"
        for i, p in enumerate(payloads)
    )
    path = write("tests/test_tally.yaml", f"flow: ../flow.yaml\ncases:\n{cases}")
    suite = run_suite([str(path.parent.parent)], runtime=Runtime())
    assert suite.ok
    (entry,) = suite.coverage.as_dict()["flows"].values()
    assert isinstance(entry, dict)
    return entry


def test_a_suite_sums_what_its_cases_reached(write: Write) -> None:
    entry = _suite(write, "{items: [1, 2, 3, 4]}")
    assert entry["missing"] == ["branch: pick -> else", "step: pick.else.few", "on_error: risky"]
    assert entry["step"] == {
        "items": 1,
        "each": 1,
        "each[].double": 1,
        "pick": 1,
        "pick.many.remember": 1,
        "pick.else.few": 0,
        "risky": 1,
    }
    assert entry["percent"] == 70.0
    entry = _suite(write, "{items: [1, 2, 3, 4]}", "{items: [1]}")
    assert entry["missing"] == [] and entry["percent"] == 100.0
    assert entry["on_error"] == {"risky": 1} and entry["branch"] == {
        "pick -> many": 1,
        "pick -> else": 1,
    }


def test_a_loop_that_never_goes_round_leaves_its_body_uncovered(write: Write) -> None:
    entry = _suite(write, "{items: []}")
    assert "step: each[].double" in entry["missing"]  # type: ignore[operator]
