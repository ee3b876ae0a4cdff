"""Checking what an action returned against its declared ``output_schema``.

``OutputSchema`` is compiled once per action. The conformance kit's harness checks every
output (a component's tests are where a mismatch should be found); the engine checks a sample
(``sampled``), since validating a large output (a thousand events) costs as much as the data
and a wrong output is a component's defect that shows on its first outputs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from runtime.inputs import json_path
from runtime.schema_messages import expected, kind_of

if TYPE_CHECKING:
    from collections.abc import Mapping

    from jsonschema.exceptions import ValidationError

#: The engine checks the first outputs of each action, then one in this many.
SAMPLE_FIRST = 8
SAMPLE_EVERY = 256


class OutputSchema:
    """One action's compiled ``output_schema``."""

    def __init__(self, ref: str, schema: Mapping[str, Any]) -> None:
        self.ref = ref
        self._validator = Draft202012Validator(dict(schema))
        self._seen = 0

    def problems(self, output: Any, *, values: bool = False) -> list[str]:
        """Every way ``output`` fails the schema, by JSON path, sorted. Without ``values``
        the words never repeat a value of the output (for logs: outputs hold personal data)."""
        found = [_words(e, values) for e in self._validator.iter_errors(output)]
        return sorted(found)

    def sampled(self, output: Any) -> str | None:
        """The first problem of ``output`` when this call is one the engine checks (see the
        module doc), else ``None``; cheap when it does not check."""
        seen = self._seen = self._seen + 1
        if seen > SAMPLE_FIRST and seen % SAMPLE_EVERY:
            return None
        if self._validator.is_valid(output):
            return None
        return self.problems(output)[0]


def _words(error: ValidationError, values: bool) -> str:
    where = json_path(error.absolute_path)
    if values:
        return f"{where}: {error.message}"
    arg: Any = error.validator_value
    if error.validator == "required" and isinstance(error.instance, dict):
        missing = [k for k in arg if k not in error.instance]
        return f"{where}: lacks {', '.join(repr(k) for k in missing)}"
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        return f"{where}: has keys the schema does not allow"
    return f"{where}: is {kind_of(error.instance)}, not {expected(error.schema)}"
