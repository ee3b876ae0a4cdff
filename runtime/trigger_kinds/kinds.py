"""The set of trigger kinds a registry knows: which kind parses a ``trigger:``, and the flow
schema that describes exactly those kinds."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Mapping
from functools import cache
from typing import TYPE_CHECKING, Any

from runtime.errors import ConfigurationError
from runtime.schemas import load_schema

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

    from runtime.trigger_kinds.base import FlowTrigger, TriggerParsing
    from runtime.trigger_kinds.component import ComponentTrigger


class TriggerKinds:
    """Trigger kinds in the order their forms are listed (and tried); ``default`` is the
    kind of a flow without ``trigger:``."""

    def __init__(self, kinds: Iterable[type[FlowTrigger]], *, default: type[FlowTrigger]) -> None:
        self._kinds: list[type[FlowTrigger]] = []
        self.default = default
        for kind in kinds:
            self.add(kind)

    def __iter__(self) -> Iterator[type[FlowTrigger]]:
        return iter(self._kinds)

    def add(self, kind: type[FlowTrigger]) -> None:
        """Register ``kind``: it is tried after the kinds already here."""
        if kind in self._kinds:
            raise ConfigurationError(f"trigger kind {kind.__name__} is already registered")
        key = getattr(kind, "key", None)
        form = getattr(kind, "form", None)
        if not isinstance(getattr(kind, "kind", None), str) or not isinstance(key, str):
            raise ConfigurationError(f"trigger kind {kind.__name__} needs `kind` and `key`")
        required = form.get("required") if isinstance(form, Mapping) else None
        if not required or required[0] != key:
            raise ConfigurationError(
                f"trigger kind {kind.__name__}: its form must require {key!r} first"
            )
        for other in self._kinds:
            if other.key == key and other.form != form:
                raise ConfigurationError(
                    f"trigger kind {kind.__name__}: key {key!r} has another form ({other.__name__})"
                )
        self._kinds.append(kind)

    def forms(self) -> list[Mapping[str, Any]]:
        """The schema of each distinct ``trigger:`` form, in order."""
        return _forms(tuple(self._kinds))

    def flow_schema(self) -> dict[str, Any]:
        """The flow schema whose ``trigger`` is one of these kinds' forms."""
        return _flow_schema(tuple(self._kinds))

    def validator(self) -> Draft202012Validator:
        """A validator of flow documents against ``flow_schema`` (built once per set)."""
        return _validator(tuple(self._kinds))

    def for_declaration(self, declared_kind: str) -> type[ComponentTrigger] | None:
        """The component kind that runs a component's ``Trigger(kind=declared_kind)``."""
        from runtime.trigger_kinds.component import ComponentTrigger

        for kind in self._kinds:
            if issubclass(kind, ComponentTrigger) and kind.declared_kind == declared_kind:
                return kind
        return None

    def parse(self, raw: Mapping[str, Any] | None, parsing: TriggerParsing) -> FlowTrigger:
        """The trigger ``raw`` (a schema-valid ``trigger:``, or ``None``) describes."""
        if raw is None:
            return self.default.parse({}, parsing)
        for kind in self._kinds:
            if kind.claims(raw, parsing.registry):
                return kind.parse(raw, parsing)
        names = ", ".join(dict.fromkeys(k.key for k in self._kinds))
        parsing.error(("trigger",), f"a trigger needs one of {names}")
        return self.default.parse({}, parsing)


@cache
def _flow_schema(kinds: tuple[type[FlowTrigger], ...]) -> dict[str, Any]:
    schema = copy.deepcopy(load_schema("flow"))
    schema["$defs"]["trigger"] = {"oneOf": [copy.deepcopy(dict(f)) for f in _forms(kinds)]}
    return schema


def _forms(kinds: tuple[type[FlowTrigger], ...]) -> list[Mapping[str, Any]]:
    seen: dict[str, Mapping[str, Any]] = {}
    for kind in kinds:
        seen.setdefault(kind.key, kind.form)
    return list(seen.values())


@cache
def _validator(kinds: tuple[type[FlowTrigger], ...]) -> Draft202012Validator:
    from jsonschema import Draft202012Validator  # only a flow being checked needs it

    return Draft202012Validator(_flow_schema(kinds))
