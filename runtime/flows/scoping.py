"""Which names an expression may read where it stands, by the engine's scoping rules.

The engine (``runtime.engine``) runs steps in order and keeps each one's output under
``steps.<id>``:

- an action, branch or loop step's output exists once it has run (an action skipped by its
  ``when`` has none, which depends on the data, so it is not a problem here);
- a branch records ``{branch}`` before the chosen case runs: its cases may read it, its cases'
  ``when`` may not; only one case runs, so a case never sees another case's steps, while the
  steps after the branch see those of whichever case ran;
- a loop's body runs on a copy of the outputs for each item: the body's steps are gone after
  the loop (read ``steps.<loop>.results``), and the loop's own output only exists after it;
- ``item`` and ``index`` exist only inside a loop; ``state`` has exactly four scopes.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from attrs import frozen

from runtime.expressions import ROOTS, Expression
from runtime.schema_messages import did_you_mean

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The scopes ``state`` holds (``runtime.context.State.as_dict``).
STATE_SCOPES = ("execution", "flow", "cross_flow", "integration")
#: CEL type names, which parse like variables (``type(x) == int``).
_CEL_NAMES = frozenset(
    {"int", "uint", "double", "bool", "string", "bytes", "list", "map", "null_type", "type", "dyn"}
)
_STRING = re.compile(r"""[rRbB]*(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')""")
_MACRO_VARIABLE = re.compile(r"\.\s*(?:map|filter|all|exists|exists_one)\s*\(\s*([A-Za-z_]\w*)\s*,")
_CONFIG_REF = re.compile(r"(?<![\w.])config\s*\.\s*([A-Za-z_]\w*)")
_STATE_REF = re.compile(r"(?<![\w.])state\s*\.\s*([A-Za-z_]\w*)")

#: Where a step stands: (enclosing step id, arm) from the outside in; an arm is ``"loop"``,
#: a branch case's index or ``"else"``.
Ancestors = tuple[tuple[str, str | int], ...]


@frozen
class Where:
    """The place of an expression: the step whose value holds it, and that step's ancestors."""

    step: str | None
    ancestors: Ancestors = ()

    @property
    def in_loop(self) -> bool:
        """Whether a ``for_each`` encloses the place (so ``item`` and ``index`` exist)."""
        return any(arm == "loop" for _, arm in self.ancestors)


@frozen
class StepPlace:
    """A step's position in document order and its ancestors."""

    order: int
    ancestors: Ancestors


def step_places(
    steps: Any, ancestors: Ancestors = (), out: dict[str, StepPlace] | None = None
) -> dict[str, StepPlace]:
    """Every step id of a (possibly malformed) list of raw steps; the first of duplicates."""
    found: dict[str, StepPlace] = {} if out is None else out
    if not isinstance(steps, list):
        return found
    for step in steps:
        if not isinstance(step, dict):
            continue
        step_id = step.get("id")
        if isinstance(step_id, str):
            found.setdefault(step_id, StepPlace(len(found), ancestors))
        else:
            step_id = f"#{len(found)}"  # unnamed: only its children matter
        cases = step.get("branch")
        for index, case in enumerate(cases if isinstance(cases, list) else []):
            if isinstance(case, dict):
                step_places(case.get("steps"), (*ancestors, (step_id, index)), found)
        step_places(step.get("else"), (*ancestors, (step_id, "else")), found)
        step_places(step.get("steps"), (*ancestors, (step_id, "loop")), found)
    return found


def reference_problems(
    expr: Expression,
    where: Where | None,
    visible: frozenset[str] | set[str],
    places: dict[str, StepPlace],
    config: set[str],
) -> Iterator[str]:
    """What ``expr`` reads that cannot be there when it runs at ``where`` (None: outside the
    steps, e.g. the trigger's inputs)."""
    bare = _STRING.sub('""', expr.source)
    bound = set(_MACRO_VARIABLE.findall(bare))
    for step in sorted(expr.steps):
        if step not in visible:
            yield _unreachable(step, where, places)
    for name in ("item", "index"):
        if name in expr.variables and name not in bound and not (where and where.in_loop):
            yield f"{name} is only defined inside for_each"
    for name in sorted(expr.variables - ROOTS - bound - _CEL_NAMES):
        yield f"unknown variable {name!r}{did_you_mean(name, ROOTS)}"
    if "state" not in bound:
        for scope in sorted(set(_STATE_REF.findall(bare)) - set(STATE_SCOPES)):
            yield (
                f"state has execution, flow, cross_flow and integration, not {scope!r}"
                f"{did_you_mean(scope, STATE_SCOPES)}"
            )
    if "config" not in bound:
        for name in sorted(set(_CONFIG_REF.findall(bare)) - config):
            yield f"reference to unknown config variable {name!r}{did_you_mean(name, config)}"


def _unreachable(step: str, where: Where | None, places: dict[str, StepPlace]) -> str:
    place = places.get(step)
    if place is None:
        return f"reference to unknown step {step!r}{did_you_mean(step, places)}"
    if where is None:
        return f"reference to step {step!r}, which has not run when the trigger fires"
    if step == where.step:
        return f"a step cannot read its own output (steps.{step})"
    if (step, "loop") in where.ancestors:
        return f"steps.{step} is set once the loop has finished; inside it, use item and index"
    here = places.get(where.step) if where.step is not None else None
    if here is None or place.order > here.order:
        return f"reference to step {step!r} before it runs"
    for ancestor, arm in place.ancestors:
        if arm == "loop" and (ancestor, "loop") not in where.ancestors:
            return (
                f"step {step!r} runs inside for_each {ancestor!r}: "
                f"outside it, read steps.{ancestor}.results"
            )
    for ancestor, arm in place.ancestors:
        for mine, my_arm in where.ancestors:
            if mine == ancestor and my_arm != arm:
                return (
                    f"step {step!r} is in another case of branch {ancestor!r} (only one case runs)"
                )
    return f"step {step!r} is not available here"
