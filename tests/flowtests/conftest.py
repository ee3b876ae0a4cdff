"""Fixtures of the flow-test tests."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from flowtest_support import TALLY, Write


@pytest.fixture
def write(tmp_path: Path) -> Write:
    """Write ``text`` (dedented) as ``tmp_path/NAME``; the tally flow is there as flow.yaml."""
    (tmp_path / "flow.yaml").write_text(TALLY)
    (tmp_path / "tests").mkdir(exist_ok=True)

    def put(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        return path

    return put
