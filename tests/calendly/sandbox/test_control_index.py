"""``GET /_sandbox/`` lists every control endpoint the app serves; ``GET /`` points to it; the
README's table documents each one."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from starlette.routing import Route

from components.calendly.sandbox import Sandbox

from .conftest import BASE_URL

README = Path(__file__).resolve().parents[3] / "README.md"


def _served(sb: Sandbox) -> set[tuple[str, str]]:
    """(method, path) of every control route the app really serves."""
    out: set[tuple[str, str]] = set()
    for route in sb.app.routes:
        assert isinstance(route, Route)
        if route.path.startswith("/_sandbox/"):
            out |= {(m, route.path) for m in route.methods or () if m != "HEAD"}
    return out


@pytest.mark.asyncio
async def test_the_index_lists_every_served_control_route(
    sb: Sandbox, anon: httpx.AsyncClient
) -> None:
    r = await anon.get("/_sandbox/")
    assert r.status_code == 200
    entries = r.json()["control"]
    assert {(e["method"], e["path"]) for e in entries} == _served(sb)
    for entry in entries:
        assert entry["summary"] and "\n" not in entry["summary"]
        assert entry["url"] == f"{BASE_URL}{entry['path']}"
        assert isinstance(entry["body"], dict)
    by_path = {e["path"]: e for e in entries}
    assert set(by_path["/_sandbox/tokens"]["body"]) == {"user", "kind", "scope"}
    assert set(by_path["/_sandbox/calendar"]["body"]) == {"user", "broken"}


@pytest.mark.asyncio
async def test_the_root_points_to_the_index(anon: httpx.AsyncClient) -> None:
    r = await anon.get("/")
    assert r.status_code == 200
    index = r.json()["control_index"]
    assert index == f"{BASE_URL}/_sandbox/"
    assert (await anon.get(index)).status_code == 200


def test_the_readme_table_names_every_control_route(sb: Sandbox) -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("### The sandbox", 1)[1].split("\n## ", 1)[0]
    rows = set(re.findall(r"^\| `(GET|POST) (/_sandbox/[^`]*)` \|", section, re.MULTILINE))
    assert rows == _served(sb)
