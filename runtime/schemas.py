"""The JSON Schemas relay ships (``schemas/`` in the source tree, inside the wheel too)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

#: The schemas live in this package (so wheels carry them); top-level ``schemas/`` links here.
_PACKAGE = "runtime.bundled_schemas"


def _schema_text(name: str) -> str:
    filename = f"{name}.schema.json"
    return (resources.files(_PACKAGE) / filename).read_text(encoding="utf-8")


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema ``schemas/<name>.schema.json`` as a dict (cached; do not mutate)."""
    data: dict[str, Any] = json.loads(_schema_text(name))
    return data


def schema_names() -> list[str]:
    """Names of every shipped schema."""
    files = [p.name for p in resources.files(_PACKAGE).iterdir()]
    return sorted(f.removesuffix(".schema.json") for f in files if f.endswith(".schema.json"))
