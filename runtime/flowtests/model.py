"""A flow test file as the runner trusts it: frozen values, every expression compiled, every
place kept for messages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import frozen

if TYPE_CHECKING:
    from runtime.expressions import Expression
    from runtime.flows.model import Flow


@frozen
class Place:
    """Where something was written: ``FILE:LINE:COL``."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@frozen
class Assertion:
    """One ``expect:`` entry: ``expression`` must give true; a snapshot's value must equal the
    one stored for it (``--update`` stores what it gave)."""

    source: str
    expression: Expression
    place: Place
    message: str = ""
    snapshot: bool = False


@frozen
class StepFixture:
    """Replaces the outcome of every run of step ``step``: ``output``, or ``error`` raised."""

    step: str
    place: Place
    output: Any = None
    error: dict[str, Any] | None = None


@frozen
class RequestFixture:
    """Answers requests ``method`` ``path`` (``*`` matches within a segment; ``host`` when
    given) with ``status``, ``headers`` and ``body``; at most ``times`` of them (all when
    ``None``)."""

    method: str
    path: str
    place: Place
    host: str | None = None
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: Any = None
    times: int | None = None


@frozen
class ScenarioAction:
    """One sandbox action with its arguments."""

    action: str
    arguments: dict[str, Any]
    place: Place


@frozen
class Case:
    """One test case: what starts the run(s), the doubles, the assertions."""

    name: str
    file: str
    place: Place
    config: dict[str, Any]
    payload: Any = None
    scenario: tuple[ScenarioAction, ...] = ()
    #: Sandbox actions before the flow's trigger is deployed: data its webhooks do not report.
    seed: tuple[ScenarioAction, ...] = ()
    state: dict[str, Any] | None = None
    step_fixtures: tuple[StepFixture, ...] = ()
    request_fixtures: tuple[RequestFixture, ...] = ()
    expect: tuple[Assertion, ...] = ()

    @property
    def id(self) -> str:
        """``FILE::NAME``, what ``-k`` matches and reports show."""
        return f"{self.file}::{self.name}"


@frozen
class TestFile:
    """A loaded test file: its flow, which sandbox its cases get, and the cases."""

    __test__ = False  # not a pytest test class

    path: str
    flow_path: str
    flow: Flow
    sandbox: str | None
    cases: tuple[Case, ...]
