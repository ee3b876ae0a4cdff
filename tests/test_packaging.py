"""The wheel carries what an install outside the checkout needs."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_wheel_ships_schemas_migrations_and_entry_points(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=240,
    )
    wheel = next(tmp_path.glob("relay_runtime-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(
            archive.read(n).decode() for n in names if n.endswith("entry_points.txt")
        )
    assert "runtime/bundled_schemas/flow.schema.json" in names
    assert "runtime/py.typed" in names
    # relay new component's templates
    for template in ("pyproject.toml", "README.md", "init.py", "component.py", "test_component.py"):
        assert f"runtime/scaffold_templates/{template}.tmpl" in names
    assert any(n.startswith("runtime/store/migrations/versions/0002") for n in names)
    assert any(n.startswith("components/calendly/sandbox/") for n in names)
    # the dashboard works from an install: its templates and assets are in the wheel
    assert "runtime/dashboard/templates/base.html" in names
    assert "runtime/dashboard/templates/execution.html" in names
    assert "runtime/dashboard/static/dashboard.js" in names
    assert "runtime/dashboard/static/dashboard.css" in names
    assert "calendly = components.calendly" in entry_points
    assert "relay = runtime.builtins" in entry_points
    assert "relay = runtime.cli:main" in entry_points
    with zipfile.ZipFile(wheel) as archive:  # relay demo's default flow, as a real file
        demo_flow = archive.read("components/calendly/demo_flow.yaml")
    assert demo_flow == (ROOT / "flows" / "booking-follow-up.yaml").read_bytes()
