"""The component matches its public reference: keys, labels, input keys, required flags, defaults.

The reference is kept in the repository as data (``data/component-reference.json``: every
connection, trigger, data source and action with its label and inputs), so a drift in either
direction fails. The CLI is what users read, so the checks go through ``relay components`` and
``relay describe``.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from components.calendly.component import build_component
from runtime.cli import cli
from runtime.testing import assert_conformant

MANIFEST = Path(__file__).resolve().parent / "data" / "component-reference.json"
KINDS = ("connections", "triggers", "dataSources", "actions")
#: Inputs relay adds to what the reference lists.
ADDED = {"limit", "tolerance", "webhookUrls", "sandboxUrl"}
#: Reference defaults relay leaves out on purpose, with why.
NO_DEFAULT = {
    # a default of false would be sent as a filter, listing only inactive types: unset = all
    ("eventTypes", "active"),
    ("eventTypes", "adminManaged"),
    ("listUserEventTypes", "active"),
    ("listUserEventTypes", "adminManaged"),
    # unset, Calendly keeps the event type's own duration; a fixed 60 would override it
    ("createShare", "duration"),
}


@functools.cache
def manifest() -> dict[str, dict[str, Any]]:
    """``{key: section}`` for every connection, trigger, data source and action."""
    data = json.loads(MANIFEST.read_text(encoding="utf-8"))
    return {section["key"]: section for kind in KINDS for section in data[kind]}


def cli_json(*args: str) -> Any:
    result = CliRunner().invoke(cli, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_the_manifest_lists_the_whole_reference() -> None:
    data = json.loads(MANIFEST.read_text(encoding="utf-8"))
    assert {kind: len(data[kind]) for kind in KINDS} == {
        "connections": 1,
        "triggers": 1,
        "dataSources": 4,
        "actions": 35,
    }
    assert all(section["inputs"] for section in manifest().values())


def test_components_lists_every_reference_key() -> None:
    listing = cli_json("components")
    calendly = next(c for c in listing if c["key"] == "calendly")
    keys = {
        kind: {i["key"] for i in calendly[kind]}
        for kind in ("connections", "actions", "data_sources", "triggers")
    }
    expected = set(manifest())
    assert len(keys["actions"]) == 35
    assert len(keys["data_sources"]) == 6
    assert len(keys["triggers"]) == 2
    listed = keys["connections"] | keys["actions"] | keys["data_sources"] | keys["triggers"]
    assert expected <= listed
    # beyond the reference: a personal-token connection, the polling trigger and two data sources
    assert listed - expected == {
        "calendlyPersonalAccessToken",
        "pollChangesTrigger",
        "organizations",
        "selectEventInvitee",
    }


@pytest.mark.parametrize("key", sorted(manifest()))
def test_describe_matches_reference_labels_inputs_and_required_flags(key: str) -> None:
    described = cli_json("describe", f"calendly.{key}")
    section = manifest()[key]
    assert described["label"] == section["label"]
    ours = {i["key"]: i for i in described["inputs"]}
    theirs = {i["key"]: i for i in section["inputs"]}
    assert {k: ours[k]["required"] for k in theirs if k in ours} == {
        k: i["required"] for k, i in theirs.items()
    }
    assert set(ours) - set(theirs) <= ADDED
    for name, ref in theirs.items():
        assert ours[name]["label"] == ref["label"], name
        assert ours[name]["collection"] == ref.get("collection"), name
        if ref["type"] in ("boolean", "connection", "password", "code"):
            assert ours[name]["type"] == ref["type"], name


@pytest.mark.parametrize(
    ("key", "name", "default"),
    sorted(
        (key, i["key"], i["default"])
        for key, section in manifest().items()
        for i in section["inputs"]
        if "default" in i
    ),
)
def test_reference_defaults_are_ours(key: str, name: str, default: str) -> None:
    described = cli_json("describe", f"calendly.{key}")
    ours = next(i for i in described["inputs"] if i["key"] == name)
    if (key, name) in NO_DEFAULT:
        assert ours["default"] is None
    else:
        assert ours["default"] is not None and str(ours["default"]).lower() == default.lower()


def test_the_conformance_kit_passes() -> None:
    assert_conformant(build_component())
