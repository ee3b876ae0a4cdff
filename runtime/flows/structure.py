"""A flow document against ``flow.schema.json``: every structural problem, in words.

jsonschema reports a step that fits none of ``oneOf``'s forms (action, branch, for_each) as
one error whose context holds every form's complaints. Which form the author meant is plain
from the step's keys, so only that form's complaints are reported, all of them; a step with
two kinds says so and is still checked as each. Besides the problems, the paths whose values
are unusable (wrong type, pattern, ...) are returned so that the compiler leaves them alone
and checks everything else.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import frozen
from jsonschema import Draft202012Validator

from runtime.schema_messages import describe, did_you_mean, expected, key_path, show
from runtime.schemas import load_schema

if TYPE_CHECKING:
    from collections.abc import Iterator

    from jsonschema.exceptions import ValidationError

    from runtime.errors import Problem
    from runtime.flows.yamlsource import Path, YamlDocument

_VALIDATOR: Draft202012Validator | None = None


def _validator() -> Draft202012Validator:
    global _VALIDATOR
    if _VALIDATOR is None:
        _VALIDATOR = Draft202012Validator(load_schema("flow"))
    return _VALIDATOR


@frozen
class _Finding:
    path: Path
    message: str
    key: bool = False  # at the key (an unknown or misnamed key), not its value
    blocks: bool = False  # the value at ``path`` cannot be used


@frozen
class SchemaReport:
    """The schema's problems, the paths of unusable values, and every path with a problem."""

    problems: list[Problem]
    blocked: set[Path]
    flagged: set[Path]


def schema_problems(
    doc: YamlDocument, validator: Draft202012Validator | None = None
) -> SchemaReport:
    """Every schema problem of ``doc`` at its place; ``validator`` checks against a flow schema
    other than the shipped one (one with more trigger kinds)."""
    report = SchemaReport([], set(), set())
    for error in (validator or _validator()).iter_errors(doc.data):
        for finding in _findings(error):
            where = key_path(finding.path[:-1] if finding.key else finding.path)
            text = f"{where}: {finding.message}" if where else finding.message
            report.problems.append(doc.problem(finding.path, text, key=finding.key))
            report.flagged.add(finding.path)
            if finding.blocks:
                report.blocked.add(finding.path)
    return report


def _findings(error: ValidationError) -> Iterator[_Finding]:
    path: Path = tuple(error.absolute_path)
    validator = error.validator
    schema: Any = error.schema  # (jsonschema types these as "or Unset")
    if validator == "oneOf":
        yield from _one_of(error, path)
    elif validator == "additionalProperties" and isinstance(error.instance, dict):
        yield from _unknown_keys(error.instance, schema.get("properties", {}), path)
    elif validator == "required":
        yield _Finding(path, describe(error))
    elif "propertyNames" in error.schema_path:
        # the error is about a key of the mapping at ``path``: point at that key
        name: Any = error.instance
        yield _Finding((*path, name), f"{show(name)} is not {expected(schema)}", key=True)
    else:
        hidden = bool(path) and path[-1] == "secret"  # never repeat a secret, even a wrong one
        message = f"is not {expected(schema)}" if hidden else describe(error)
        yield _Finding(path, message, blocks=True)


def _unknown_keys(instance: dict[str, Any], known: Any, path: Path) -> Iterator[_Finding]:
    for name in sorted(set(instance) - set(known), key=str):
        yield _Finding((*path, name), f"unknown key {name!r}{did_you_mean(name, known)}", key=True)


def _one_of(error: ValidationError, path: Path) -> Iterator[_Finding]:
    """The forms (step kinds, trigger kinds) the author wrote, each checked as itself."""
    instance = error.instance
    forms: Any = error.validator_value
    schema: Any = error.schema
    noun = "a step" if path and isinstance(path[-1], int) else f"a {path[-1]}" if path else "it"
    if not isinstance(instance, dict):
        if "type" not in schema:  # else the type error beside this one says it
            yield _Finding(path, f"{show(instance)} is not a mapping", blocks=True)
        return
    kinds = [_kind(form) for form in forms]
    present = [i for i, kind in enumerate(kinds) if kind in instance]
    names = ", ".join(k for k in kinds if k)
    if not present:
        yield _Finding(path, f"{noun} needs one of {names}")
        return
    if len(present) > 1:
        written = " and ".join(str(kinds[i]) for i in present)
        yield _Finding(path, f"{noun} has exactly one of {names}; this one has {written}")
    known = {key for i in present for key in forms[i].get("properties", {})}
    for sub in error.context or ():
        if sub.relative_schema_path[0] not in present:
            continue
        if sub.validator == "additionalProperties" and tuple(sub.absolute_path) == path:
            # a key is unknown only when none of the written forms knows it
            extra = {k: v for k, v in instance.items() if k not in known}
            yield from _unknown_keys(extra, known, path)
            continue
        yield from _findings(sub)


def _kind(form: Any) -> str | None:
    """The key that says a value is of this form: the first one it requires."""
    required = form.get("required") if isinstance(form, dict) else None
    return required[0] if isinstance(required, list) and required else None
