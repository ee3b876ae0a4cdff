"""Flow-validation test helpers: a flow's text from its steps, and the problems loading it
reports."""

from __future__ import annotations

import pytest

from runtime import FlowError, Runtime


def problems_of(runtime: Runtime, text: str) -> list[str]:
    """Every problem loading ``text`` (as ``f.yaml``) reports, as ``FILE:LINE:COL: message``."""
    with pytest.raises(FlowError) as info:
        runtime.load_flow_text(text, "f.yaml")
    return [str(p) for p in info.value.problems]


def flow(steps: str, head: str = "") -> str:
    """A flow named ``x`` with ``head`` (config, trigger) before its ``steps`` lines."""
    return f"name: x\n{head}steps:\n{steps}"
