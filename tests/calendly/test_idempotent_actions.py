"""Which Calendly actions only read: each action's declaration against the operations it sends.

The facts are kept in the repository (``data/action-requests.json``: the operations each action
sends), so an action added without the matching declaration fails here.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import pytest

from components.calendly.actions import ACTIONS
from components.calendly.actions.raw import READ_METHODS
from runtime import Action

DATA = Path(__file__).resolve().parent / "data"
FACTS = DATA / "action-requests.json"
SPEC = DATA / "openapi.json"
RAW = "rawRequest"


@functools.cache
def facts() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(FACTS.read_text(encoding="utf-8"))
    return loaded


def by_key() -> dict[str, Action]:
    return {action.key: action for action in ACTIONS}


def methods(key: str) -> set[str]:
    return {request.split(" ", 1)[0] for request in facts()["actions"][key]["requests"]}


def test_every_action_has_facts_and_every_fact_an_action() -> None:
    assert sorted(facts()["actions"]) == sorted(by_key())


def test_the_facts_name_operations_calendly_has() -> None:
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    operations = {
        f"{method.upper()} {path}" for path, item in spec["paths"].items() for method in item
    }
    for key, fact in facts()["actions"].items():
        if key == RAW:
            continue
        assert set(fact["requests"]) <= operations, key


def test_the_safe_methods_are_the_raw_requests_reads() -> None:
    assert set(facts()["safeMethods"]) == READ_METHODS


@pytest.mark.parametrize("key", sorted(set(by_key()) - {RAW}))
def test_an_action_is_read_only_exactly_when_it_only_reads(key: str) -> None:
    action = by_key()[key]
    reads = methods(key) <= set(facts()["safeMethods"])
    assert action.read_only is reads
    assert action.changes({}) is not reads


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"])
def test_a_raw_request_changes_something_unless_its_method_only_reads(method: str) -> None:
    action = by_key()[RAW]
    choices = {
        choice.value for spec in action.inputs if spec.key == "method" for choice in spec.choices
    }
    assert method in choices
    assert action.changes({"method": method}) is (method not in facts()["safeMethods"])
