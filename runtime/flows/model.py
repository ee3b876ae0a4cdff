"""The validated, compiled form of a flow: frozen values the engine trusts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from attrs import frozen

from runtime.durations import parse_duration as parse_duration

if TYPE_CHECKING:
    from runtime.expressions import Template
    from runtime.trigger_kinds.base import FlowTrigger


@frozen
class RetryPolicy:
    """How a step is retried: attempts in all, backoff between them, which errors count."""

    attempts: int = 1
    backoff: Literal["fixed", "exponential"] = "exponential"
    initial: float = 1.0
    max: float = 30.0
    jitter: bool = True
    on: tuple[str, ...] = ("retriable",)

    def delay(self, attempt: int, random_fraction: float) -> float:
        """The pause after failed attempt number ``attempt`` (1-based)."""
        base = self.initial if self.backoff == "fixed" else self.initial * 2 ** (attempt - 1)
        base = min(base, self.max)
        if self.jitter:
            # "equal jitter": keep half, randomise half, so retries spread but never collapse to 0
            return base / 2 + base / 2 * random_fraction
        return base


@frozen
class ConfigVariable:
    """One ``config:`` entry of a flow: its type (or component connection), default and
    whether a deploy must set it."""

    name: str
    type: str
    component: str | None = None
    connection: str | None = None
    default: Any = None
    required: bool = True
    secret: bool = False
    description: str = ""


@frozen
class ActionStep:
    """A step that calls one component action with templated inputs, under a retry policy."""

    id: str
    component: str
    action: str
    inputs: dict[str, Any]
    retry: RetryPolicy
    on_error: Literal["fail", "continue"] = "fail"
    when: Template | None = None
    timeout: float | None = None
    #: ``False``: a step found in flight after a crash is failed rather than sent again.
    idempotent: bool = True

    @property
    def ref(self) -> str:
        """``component.action``, the name the registry resolves."""
        return f"{self.component}.{self.action}"


@frozen
class BranchCase:
    """One ``when:`` case of a branch: the steps run when its condition holds."""

    name: str
    when: Template
    steps: tuple[Step, ...]


@frozen
class BranchStep:
    """A step that runs the first case whose condition holds, else ``otherwise``."""

    id: str
    cases: tuple[BranchCase, ...]
    otherwise: tuple[Step, ...]
    on_error: Literal["fail", "continue"] = "fail"


@frozen
class LoopStep:
    """A step that runs its steps once per item of a templated list."""

    id: str
    items: Template
    steps: tuple[Step, ...]
    on_error: Literal["fail", "continue"] = "fail"


Step = ActionStep | BranchStep | LoopStep


@frozen
class Flow:
    """A flow as the engine runs it: config, trigger and steps, all validated."""

    name: str
    description: str
    config: tuple[ConfigVariable, ...]
    #: The parsed ``trigger:``, an instance of its kind (see ``runtime.trigger_kinds``).
    trigger: FlowTrigger
    steps: tuple[Step, ...]
    source: str
    text: str
    concurrency: int = 10
    version: str = ""

    def config_variable(self, name: str) -> ConfigVariable | None:
        """The config entry named ``name``, or None when the flow declares none by that name."""
        return next((c for c in self.config if c.name == name), None)

    def walk(self) -> list[Step]:
        """Every step in document order, nested ones included."""
        found: list[Step] = []

        def visit(steps: tuple[Step, ...]) -> None:
            for step in steps:
                found.append(step)
                if isinstance(step, BranchStep):
                    for case in step.cases:
                        visit(case.steps)
                    visit(step.otherwise)
                elif isinstance(step, LoopStep):
                    visit(step.steps)

        visit(self.steps)
        return found
