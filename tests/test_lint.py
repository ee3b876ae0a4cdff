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


def test_import_linter_contracts_hold() -> None:
    """The layers, the components' use of runtime's public API only, and no import cycles
    (the contracts in pyproject.toml)."""
    _run(str(BIN / "lint-imports"), "--no-cache")


def test_the_tree_is_ruff_formatted() -> None:
    _run(str(BIN / "ruff"), "format", "--check", "runtime", "components", "tests", "bench")


def test_import_linter_would_catch_an_upward_import(tmp_path: Path) -> None:
    """The tool is live: a contract that puts the CLI below the engine is reported broken."""
    config = tmp_path / "inverted.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["runtime"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "inverted"\ntype = "layers"\n'
        'layers = ["runtime.engine", "runtime.cli"]\n'
    )
    done = subprocess.run(
        [str(BIN / "lint-imports"), "--no-cache", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert "runtime.cli is not allowed to import runtime.engine" in done.stdout
