"""The code base stays ruff clean and type-checks under mypy --strict (tests and bench too)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _run(*args: str, **env: str) -> None:
    done = subprocess.run(
        args, cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, **env}
    )
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"


def test_ruff_finds_nothing() -> None:
    _run(str(BIN / "ruff"), "check", "runtime", "components", "tests", "bench")


def test_mypy_strict_passes_on_the_packages() -> None:
    _run(str(BIN / "mypy"))


def test_mypy_strict_passes_on_tests_and_bench() -> None:
    _run(
        str(BIN / "mypy"),
        "--explicit-package-bases",
        "tests",
        "bench",
        MYPYPATH=str(ROOT / "tests" / "support"),
    )
