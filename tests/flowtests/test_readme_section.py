"""The README's flow test example runs as written, beside the shipped flows."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from click.testing import CliRunner
from flowtest_support import FLOWS, ROOT

from runtime.cli import cli


def test_the_readme_flow_test_example_passes(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"^```yaml flowtest\n(.*?)^```", readme, re.S | re.M)
    flows = Path(shutil.copytree(FLOWS, tmp_path / "flows"))
    path = flows / "tests" / "test_readme.yaml"
    path.write_text(example)
    first = CliRunner().invoke(cli, ["test", str(path)])
    assert first.exit_code == 1 and "no snapshot stored yet" in first.output  # until --update
    stored = CliRunner().invoke(cli, ["test", str(path), "--update"])
    assert stored.exit_code == 0, stored.output
    again = CliRunner().invoke(cli, ["test", str(path)])
    assert again.exit_code == 0, again.output
    assert "3 passed" in again.output
