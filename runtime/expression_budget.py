"""The evaluation budget of expressions that iterate, and where each one is evaluated.

An expression with comprehension macros (``map``, ``filter``, ``all``, ``exists``,
``exists_one``) costs in proportion to the data it iterates, raised to how deeply the macros
nest: ``xs.map(a, xs.map(b, xs.map(c, ...)))`` over a 1 KB list is hundreds of millions of
steps. Before such an expression runs, ``estimate`` bounds its cost from the size of the
values it reads (counting stops once over the budget, so the estimate itself stays cheap) and
its literals. Within ``Budget.inline`` it is evaluated inline as any other expression; over
it, in a child process (``runtime.expression_isolation``) under ``Budget.time_limit``, so the
event loop keeps answering while it runs. Past the time limit the step fails with
``<where>: expression exceeded its evaluation budget (...)``. A long chain of ``+`` is
estimated too (each ``+`` can copy the list or string built so far: quadratic in the chain);
other expressions cost in proportion to their inputs and are evaluated inline unestimated.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from typing import Any

from attrs import frozen

from runtime.envsettings import POSITIVE, env_value
from runtime.errors import ExpressionError
from runtime.expressions import ConfigCache, Expression, Template, _fresh

#: Characters of a string that count as one element (string work is per character).
_CHARS_PER_ELEMENT = 64


@frozen
class Budget:
    """How much an iterating expression may cost (see the module docstring)."""

    #: estimated cost (innermost iterations, roughly) up to which evaluation is inline
    inline: int = 20_000
    #: seconds an isolated evaluation may take
    time_limit: float = 2.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Budget:
        """``RELAY_EXPRESSION_BUDGET`` (a whole number, zero or more: 0 isolates every
        iterating expression) and ``RELAY_EXPRESSION_TIME_LIMIT`` (seconds, above zero)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if env.get("RELAY_EXPRESSION_BUDGET"):
            values["inline"] = env_value(
                "RELAY_EXPRESSION_BUDGET", env["RELAY_EXPRESSION_BUDGET"], int
            )
        if env.get("RELAY_EXPRESSION_TIME_LIMIT"):
            values["time_limit"] = env_value(
                "RELAY_EXPRESSION_TIME_LIMIT", env["RELAY_EXPRESSION_TIME_LIMIT"], POSITIVE
            )
        return cls(**values)


@functools.cache
def current_budget() -> Budget:
    """The process's budget, from the environment on first use (see ``Budget.from_env``)."""
    return Budget.from_env()


def estimate(expr: Expression, bindings: Mapping[str, Any], limit: int) -> int:
    """A bound on ``expr``'s cost with ``bindings``: ``macros x (1 + pluses) x items ** depth``
    for an expression that iterates, ``(1 + pluses) ** 2 x items`` for a chain of ``+`` (each
    copies what the chain built so far), where items counts the elements of every value it
    reads plus its literals' items. 0 for an expression that is not budgeted. Counting stops
    once the result is over ``limit`` (the value returned is then over it, not exact)."""
    if not expr.budgeted:
        return 0
    depth = max(1, expr.macro_depth)
    if expr.macro_depth:
        factor = max(1, expr.macro_count) * (1 + expr.concatenations)
    else:
        factor = (1 + expr.concatenations) ** 2
    enough = int((max(limit, 0) / factor) ** (1 / depth)) + 1
    items = expr.literal_items + _elements(bindings.values(), enough - expr.literal_items)
    return int(factor * items**depth)


def _elements(values: Any, cap: int) -> int:
    """Elements in ``values`` (entries of every list and map within, long strings by length),
    counted until over ``cap``."""
    total = 0
    stack = list(values)
    while stack and total <= cap:
        value = stack.pop()
        if isinstance(value, Mapping):
            total += len(value)
            stack.extend(value.values())
        elif isinstance(value, list | tuple):
            total += len(value)
            stack.extend(value)
        elif isinstance(value, str | bytes):
            total += len(value) // _CHARS_PER_ELEMENT
    return total


async def evaluate(expr: Expression, scope: Mapping[str, Any], where: str) -> Any:
    """``expr.evaluate(scope)``, inline or isolated as its estimated cost decides."""
    if not expr.budgeted:
        return expr.evaluate(scope)
    budget = current_budget()
    bindings = expr.bindings(scope)
    if budget.inline and estimate(expr, bindings, budget.inline) <= budget.inline:
        return expr.evaluate(scope)
    # (imported here: commands that only check settings need none of it)
    from runtime.expression_isolation import EvaluationFailed, EvaluationTimedOut, isolated

    try:
        return await isolated().evaluate(expr.source, bindings, budget.time_limit)
    except EvaluationTimedOut:
        raise ExpressionError(
            f"{where}: expression exceeded its evaluation budget (still running after"
            f" {budget.time_limit:g} s, RELAY_EXPRESSION_TIME_LIMIT)"
        ) from None
    except EvaluationFailed as exc:
        raise ExpressionError(
            f"{where}: expression exceeded its evaluation budget ({exc})"
        ) from None


async def render(
    value: Any, scope: Mapping[str, Any], where: str, config_cache: ConfigCache | None = None
) -> Any:
    """``runtime.expressions.render_value`` for values holding iterating expressions: each
    of those evaluated by ``evaluate`` (``where`` names the value, e.g.
    ``steps.x.inputs``; keys and indexes are added to it)."""
    if isinstance(value, Template):
        if config_cache is not None and value.config_only:
            if value.raw not in config_cache:
                config_cache[value.raw] = await _template(value, scope, where)
            return _fresh(config_cache[value.raw])
        return await _template(value, scope, where)
    if isinstance(value, dict):
        return {k: await render(v, scope, f"{where}.{k}", config_cache) for k, v in value.items()}
    if isinstance(value, list):
        return [await render(v, scope, f"{where}[{i}]", config_cache) for i, v in enumerate(value)]
    return value


async def _template(template: Template, scope: Mapping[str, Any], where: str) -> Any:
    if not template.budgeted:
        return template.render(scope)
    if template.whole:
        expr = template.parts[0]
        assert isinstance(expr, Expression)
        return await evaluate(expr, scope, where)
    out: list[str] = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
        else:
            value = await evaluate(part, scope, where)
            out.append(value if isinstance(value, str) else json.dumps(value))
    return "".join(out)
