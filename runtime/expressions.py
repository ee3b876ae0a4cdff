"""``${{ CEL }}`` expressions in flow values: compile once, evaluate, list references.

A scalar that is exactly one ``${{ expr }}`` evaluates to the expression's value with its type;
``${{ }}`` inside a longer string interpolates (values rendered as JSON unless strings).
Expressions are CEL: no side effects and no access to anything but the variables relay passes
(``config``, ``trigger``, ``steps``, ``state``, and in a loop ``item`` and ``index``).
Nesting is capped at compile time so a hostile flow cannot exhaust the parser.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any

from attrs import field, frozen

from runtime.cel_engine import cel_engine
from runtime.errors import ExpressionError

#: Deepest bracket nesting and deepest macro (map/filter/all/exists) nesting accepted.
MAX_NESTING = 24
MAX_MACRO_NESTING = 3
MAX_LENGTH = 4096
#: ``+`` an expression may chain and still be evaluated without a cost estimate.
CHEAP_CONCATENATIONS = 8

ROOTS = frozenset({"config", "trigger", "steps", "item", "index", "state"})
_CONFIG_ONLY = frozenset({"config"})

_TEMPLATE = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_WHOLE = re.compile(r"^\s*\$\{\{(.*)\}\}\s*$", re.DOTALL)
_STRING_LITERAL = re.compile(r"""'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*\"""")
_STEP_REF = re.compile(r"(?<![\w.])steps\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*\"@(\d+)@\"\s*\])")
_STEPS_ROOT = re.compile(r"(?<![\w.])steps\b")
_MACROS = re.compile(r"\.\s*(?:map|filter|all|exists|exists_one)\s*\(")


@frozen
class Expression:
    """One compiled CEL expression and what it refers to."""

    source: str
    program: Any
    variables: frozenset[str]
    steps: frozenset[str]
    #: Every use of ``steps`` is ``steps.NAME`` / ``steps["NAME"]``: only those outputs are needed.
    static_steps: bool = False
    #: For a plain reference (``steps.me.data.resource.uri``, ``item["name"]``, ``list[0]``): the
    #: variable, then each key or index. See ``evaluate``.
    path: tuple[str | int, ...] | None = None
    #: How deeply comprehension macros (map/filter/all/exists/exists_one) nest, how many there
    #: are, how many ``+`` it has (each can copy a list or string it was given), and how many
    #: items list and map literals can hold (commas and brackets counted): what
    #: ``runtime.expression_budget`` estimates an evaluation's cost from.
    macro_depth: int = 0
    macro_count: int = 0
    concatenations: int = 0
    literal_items: int = 0

    @property
    def budgeted(self) -> bool:
        """Whether the cost can grow faster than the data it reads: it iterates, or chains
        more ``+`` than ``CHEAP_CONCATENATIONS`` (each one copies what the last produced)."""
        return self.macro_depth > 0 or self.concatenations > CHEAP_CONCATENATIONS

    def evaluate(self, scope: Mapping[str, Any]) -> Any:
        """The expression's value over ``scope`` (``config``, ``trigger``, ``steps``, ...)."""
        if self.path is not None:
            # Most flow expressions are plain references. Walking them directly gives CEL's
            # value without converting the referenced output to CEL and back (tens of
            # microseconds for one API resource); anything unusual (a missing key, a wrong type,
            # a value CEL would change) goes to CEL, so results and errors stay CEL's.
            try:
                return _walk(scope, self.path)
            except _NotPlain:
                pass
        try:
            return _from_cel(self.program.execute(self.bindings(scope)))
        except KeyError as exc:
            raise ExpressionError(f"${{{{ {self.source} }}}}: no such key {exc}") from None
        except (
            ValueError,
            TypeError,
            RuntimeError,
            ZeroDivisionError,
            OverflowError,
            IndexError,
        ) as exc:
            raise ExpressionError(f"${{{{ {self.source} }}}}: {_first_line(exc)}") from None

    def bindings(self, scope: Mapping[str, Any]) -> dict[str, Any]:
        """The part of ``scope`` this expression reads. The CEL binding converts every value
        it is given on each call, so passing the whole scope (every earlier step's output)
        made each evaluation cost in proportion to everything the execution had fetched."""
        out: dict[str, Any] = {}
        for name in self.variables:
            if name not in scope:
                continue
            value = scope[name]
            if name == "steps" and self.static_steps and isinstance(value, Mapping):
                value = {key: value[key] for key in self.steps if key in value}
            out[name] = value
        return out


class _NotPlain(Exception):
    """A reference ``_walk`` leaves to CEL."""


_INT64 = range(-(2**63), 2**63)


def _walk(scope: Mapping[str, Any], path: tuple[str | int, ...]) -> Any:
    """Follow ``path`` through maps and lists, returning a copy shaped as ``_from_cel``'s."""
    value: Any = scope
    for step in path:
        if isinstance(step, str):
            if not isinstance(value, Mapping) or step not in value:
                raise _NotPlain
            value = value[step]
        else:
            if not isinstance(value, list | tuple) or step >= len(value):
                raise _NotPlain
            value = value[step]
    return _from_cel(value, strict=True)


_IDENT = r"[A-Za-z_]\w*"
_PATH = re.compile(
    rf"""\s*({_IDENT})((?:\s*\.\s*{_IDENT}|\s*\[\s*(?:'[^'\\]*'|"[^"\\]*"|\d+)\s*\])*)\s*"""
)
_PATH_PART = re.compile(rf"""\.\s*({_IDENT})|\[\s*(?:'([^'\\]*)'|"([^"\\]*)"|(\d+))\s*\]""")
#: CEL words that parse like identifiers but are not variables or fields.
_RESERVED = frozenset({"true", "false", "null", "in", "as", "break", "const", "continue"})


def _reference_path(text: str) -> tuple[str | int, ...] | None:
    """``text`` as (variable, key or index, ...) when it is a plain reference, else None."""
    match = _PATH.fullmatch(text)
    if match is None or match.group(1) in _RESERVED:
        return None
    path: list[str | int] = [match.group(1)]
    for part in _PATH_PART.finditer(match.group(2)):
        field, single, double, index = part.groups()
        if field is not None:
            if field in _RESERVED:
                return None
            path.append(field)
        elif index is not None:
            path.append(int(index))
        else:
            path.append(single if single is not None else double)
    return tuple(path)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _from_cel(value: Any, *, strict: bool = False) -> Any:
    """A value as relay hands it on: text for bytes and for keys, lists for sequences, copied.
    ``strict`` (a value read without CEL): raise ``_NotPlain`` for what CEL would change (an
    integer beyond 64 bits becomes a double) or not take (any other type)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {str(k): _from_cel(v, strict=strict) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_from_cel(v, strict=strict) for v in value]
    if strict and not (
        value is None
        or isinstance(value, str | float)
        or (isinstance(value, int) and value in _INT64)  # bool included
    ):
        raise _NotPlain
    return value


def _check_nesting(source: str) -> int:
    """Refuse brackets or macros nested too deeply; returns the macro nesting."""
    bare = _STRING_LITERAL.sub('""', source)
    depth = deepest = 0
    for char in bare:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    if deepest > MAX_NESTING:
        raise ExpressionError(f"nesting {deepest} exceeds the limit of {MAX_NESTING}")
    macro_depth = _macro_depth(bare)
    if macro_depth > MAX_MACRO_NESTING:
        raise ExpressionError(
            f"macro nesting {macro_depth} exceeds the limit of {MAX_MACRO_NESTING}"
        )
    return macro_depth


def _macro_depth(bare: str) -> int:
    """How deeply map/filter/all/exists calls nest inside each other's arguments."""
    opened: list[bool] = []  # per open paren: did a macro open it?
    deepest = 0
    index = 0
    while index < len(bare):
        match = _MACROS.match(bare, index)
        if match:
            opened.append(True)
            deepest = max(deepest, sum(opened))
            index = match.end()
            continue
        char = bare[index]
        if char == "(":
            opened.append(False)
        elif char == ")" and opened:
            opened.pop()
        index += 1
    return deepest


def compile_expression(source: str) -> Expression:
    """Compile ``source`` (the text between ``${{`` and ``}}``); raise ``ExpressionError``."""
    text = source.strip()
    if not text:
        raise ExpressionError("empty expression")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_LENGTH} characters")
    macro_depth = _check_nesting(text)
    try:
        program = cel_engine().compile(text)
        variables = frozenset(program.variables())
    except (ValueError, RuntimeError, TypeError) as exc:
        raise ExpressionError(_syntax_message(exc)) from None
    literals: list[str] = []

    def placeholder(match: re.Match[str]) -> str:
        literals.append(match.group(0)[1:-1])
        return f'"@{len(literals) - 1}@"'

    bare = _STRING_LITERAL.sub(placeholder, text)
    references = _STEP_REF.findall(bare)
    steps = frozenset(name or literals[int(index)] for name, index in references)
    static_steps = len(references) == len(_STEPS_ROOT.findall(bare))
    macro_count = len(_MACROS.findall(bare)) if macro_depth else 0
    concatenations = bare.count("+")
    estimated = macro_depth > 0 or concatenations > CHEAP_CONCATENATIONS
    return Expression(
        text,
        program,
        variables,
        steps,
        static_steps,
        _reference_path(text),
        macro_depth=macro_depth,
        macro_count=macro_count,
        concatenations=concatenations,
        literal_items=sum(bare.count(c) for c in ",[{") if estimated else 0,
    )


def _syntax_message(exc: BaseException) -> str:
    text = str(exc)
    marker = "Syntax error:"
    if marker in text:
        return "syntax error: " + text.split(marker, 1)[1].splitlines()[0].strip()
    return _first_line(exc)


@frozen
class Template:
    """A flow value with expressions: whole (typed) or interpolated (string)."""

    raw: str
    parts: tuple[str | Expression, ...]
    whole: bool

    @property
    def expressions(self) -> tuple[Expression, ...]:
        """The ``${{ }}`` parts, without the literal text around them."""
        return tuple(p for p in self.parts if isinstance(p, Expression))

    #: Whether every expression reads ``config`` and nothing else (asked for every step).
    config_only: bool = field(init=False)
    #: Whether an expression's cost can grow faster than its data (``Expression.budgeted``):
    #: evaluated within a budget (``runtime.expression_budget``), not by ``render``.
    budgeted: bool = field(init=False)

    @config_only.default
    def _reads_only_config(self) -> bool:
        return all(isinstance(p, str) or p.variables == _CONFIG_ONLY for p in self.parts)

    @budgeted.default
    def _has_budgeted(self) -> bool:
        return any(isinstance(p, Expression) and p.budgeted for p in self.parts)

    def render(self, scope: Mapping[str, Any]) -> Any:
        """A whole expression's value as it is; text with expressions in it as a string."""
        if self.whole:
            expr = self.parts[0]
            assert isinstance(expr, Expression)
            return expr.evaluate(scope)
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                value = part.evaluate(scope)
                out.append(value if isinstance(value, str) else json.dumps(value))
        return "".join(out)


def templates_in(value: Any) -> Iterator[Template]:
    """Every template inside a compiled value (dicts and lists walked)."""
    if isinstance(value, Template):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from templates_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from templates_in(item)


def has_template(value: str) -> bool:
    """Whether ``value`` holds a ``${{`` (a quick test before parsing it)."""
    return "${{" in value


def compile_template(raw: str) -> Template:
    """Compile a string holding ``${{ }}`` expressions."""
    whole = _WHOLE.match(raw)
    if whole and "${{" not in whole.group(1) and "}}" not in whole.group(1):
        return Template(raw, (compile_expression(whole.group(1)),), whole=True)
    parts: list[str | Expression] = []
    last = 0
    for match in _TEMPLATE.finditer(raw):
        if match.start() > last:
            parts.append(raw[last : match.start()])
        parts.append(compile_expression(match.group(1)))
        last = match.end()
    tail = raw[last:]
    if "${{" in tail:
        raise ExpressionError("unterminated ${{ (missing }})")
    if tail:
        parts.append(tail)
    return Template(raw, tuple(parts), whole=False)


#: Template text -> what it rendered to; see ``render_value``.
ConfigCache = dict[str, Any]


def render_value(
    value: Any, scope: Mapping[str, Any], config_cache: ConfigCache | None = None
) -> Any:
    """Evaluate every template inside a compiled value (dicts and lists walked).

    ``config_cache``: for callers whose ``scope["config"]`` does not change between calls (one
    execution): a template that reads nothing but ``config`` (``${{ config.calendly }}`` in
    every step) is evaluated once per text and each later use gets a fresh copy of that result,
    equal to a new evaluation as evaluation is deterministic (CEL has no side effects). Failed
    evaluations are not cached (each use raises again).
    """
    if isinstance(value, Template):
        if config_cache is None or not value.config_only:
            return value.render(scope)
        if value.raw not in config_cache:
            config_cache[value.raw] = value.render(scope)
        return _fresh(config_cache[value.raw])
    if isinstance(value, dict):
        # (plain text, most inputs, is returned as it is without a call per value)
        return {
            k: v if type(v) is str else render_value(v, scope, config_cache)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [render_value(v, scope, config_cache) for v in value]
    return value


def _fresh(value: Any) -> Any:
    """A copy of a rendered value (dicts, lists and immutable scalars, as ``_from_cel`` makes)."""
    if isinstance(value, dict):
        return {k: v if type(v) is str else _fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    return value
