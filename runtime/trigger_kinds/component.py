"""What the component trigger kinds share: ``trigger: {component, trigger, inputs}`` parsed
against the component's declaration, its inputs rendered per instance, and the declaration's
deploy and undeploy steps.

Which kind a ``component:`` trigger is (webhook or polling) is the declaration's ``kind``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, ClassVar, Self

from attrs import evolve, frozen

from runtime.dedupe import DEDUPE_FORM
from runtime.expressions import render_value
from runtime.redaction import SECRET_KEYS
from runtime.schema_messages import did_you_mean
from runtime.trigger_kinds.base import (
    DeliveryHost,
    FlowTrigger,
    TriggerHost,
    TriggerParsing,
    parse_dedupe,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

    from runtime.connections import ConnectionHandle
    from runtime.declarations import Trigger
    from runtime.expressions import Template
    from runtime.flows.model import Flow
    from runtime.flows.yamlsource import Path
    from runtime.registry import Registry
    from runtime.store.records import Instance

#: An HTTP header name (RFC 9110 ``token``).
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
#: Headers that carry credentials: a delivery record never keeps them, whoever asks.
_CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})


@frozen
class ComponentTrigger(FlowTrigger):
    """A trigger a component declares; subclasses set ``declared_kind`` and take what they
    need of the declaration in ``from_declaration``."""

    kind: ClassVar[str] = "component"
    key: ClassVar[str] = "component"
    form: ClassVar[Mapping[str, Any]] = {
        "type": "object",
        "required": ["component", "trigger"],
        "additionalProperties": False,
        "properties": {
            "component": {"type": "string"},
            "trigger": {"type": "string"},
            "inputs": {"type": "object"},
            "dedupe": DEDUPE_FORM,
        },
    }
    #: The ``Trigger.kind`` of the declarations this class parses.
    declared_kind: ClassVar[str]

    component: str
    trigger: str
    #: The trigger's inputs as written, ``${{ }}`` strings compiled.
    inputs: dict[str, Any]
    #: The flow's ``dedupe:`` expression (webhook triggers), over the declared identity.
    dedupe: Template | None = None

    @property
    def ref(self) -> str:
        """``component.trigger``."""
        return f"{self.component}.{self.trigger}"

    @classmethod
    def declaration_problems(cls, where: str, declared: Trigger) -> Iterator[str]:
        """What is wrong with a component's declaration of a trigger of this kind (checked
        when the component registers); ``where`` starts each message."""
        yield from kept_header_problems(where, declared, keeps_headers=False)

    @classmethod
    def claims(cls, raw: Mapping[str, Any], registry: Registry) -> bool:
        """A ``component:`` trigger whose declaration is of ``declared_kind``; one naming no
        declared trigger goes to the first component kind, which reports it."""
        if cls.key not in raw:
            return False
        declared = _declared(raw, registry)
        return declared is None or declared.kind == cls.declared_kind

    @classmethod
    def parse(cls, raw: Mapping[str, Any], parsing: TriggerParsing) -> Self:
        """Check the component, the trigger and its inputs against the declaration."""
        path: Path = ("trigger",)
        written = raw.get("inputs", {})
        inputs = parsing.values(written, (*path, "inputs"))
        component, key = raw["component"], raw["trigger"]
        registered = parsing.registry.get(component)
        declared = registered.component.trigger(key) if registered is not None else None
        if registered is None:
            hint = did_you_mean(component, [r.component.key for r in parsing.registry])
            parsing.error((*path, "component"), parsing.registry.unknown_component(component, hint))
        elif declared is None:
            hint = did_you_mean(key, parsing.known("triggers", registered.component))
            parsing.error(
                (*path, "trigger"), f"component {component!r} has no trigger {key!r}{hint}"
            )
        else:
            schema = registered.schema("trigger", key)
            parsing.check_inputs(schema, written, inputs, (*path, "inputs"))
        parsed = cls.from_declaration(component, key, inputs, declared)
        if "dedupe" in raw and not cls.receives_webhooks:
            parsing.error(
                (*path, "dedupe"), "dedupe: only a trigger that receives webhooks dedupes"
            )
            return parsed
        dedupe = parse_dedupe(raw, parsing)
        return parsed if dedupe is None else evolve(parsed, dedupe=dedupe)

    @classmethod
    def from_declaration(
        cls, component: str, trigger: str, inputs: dict[str, Any], declared: Trigger | None
    ) -> Self:
        """The parsed trigger; ``declared`` is ``None`` when the flow names no declared
        trigger (it does not load then)."""
        return cls(component=component, trigger=trigger, inputs=inputs)

    async def params(self, host: DeliveryHost, instance: Instance, flow: Flow) -> dict[str, Any]:
        """The trigger's inputs for ``instance``: config rendered in, connections opened."""
        return self.render_inputs(await host.connections(instance, flow))

    def render_inputs(
        self, resolved: tuple[Mapping[str, Any], Mapping[str, ConnectionHandle]]
    ) -> dict[str, Any]:
        """The inputs rendered against a resolved config (scope, connection handles):
        ``$connection`` references become the handles they name."""
        scope, handles = resolved
        rendered: dict[str, Any] = render_value(
            self.inputs, {"config": scope, "trigger": {}, "steps": {}, "state": {}}
        )
        for key, value in list(rendered.items()):
            if isinstance(value, dict) and "$connection" in value:
                rendered[key] = handles[value["$connection"]]
        return rendered

    async def deploy(self, host: TriggerHost, instance: Instance, flow: Flow) -> dict[str, Any]:
        """The declaration's ``on_deploy``; what it returns becomes the deploy state."""
        state = await host.runtime.deploy_trigger(
            self.ref,
            await self.params(host, instance, flow),
            webhook_url=host.webhook_url(instance),
        )
        host.runtime.redactor.add(
            str(v) for k, v in state.items() if SECRET_KEYS.match(k) and isinstance(v, str)
        )
        return state

    async def undeploy(self, host: TriggerHost, instance: Instance, flow: Flow) -> None:
        """The declaration's ``on_undeploy`` (e.g. delete the remote subscription)."""
        await host.runtime.undeploy_trigger(
            self.ref,
            await self.params(host, instance, flow),
            webhook_url=host.webhook_url(instance),
            deploy_state=instance.deploy_state,
        )


def _declared(raw: Mapping[str, Any], registry: Registry) -> Trigger | None:
    registered = registry.get(raw["component"])
    return registered.component.trigger(raw["trigger"]) if registered is not None else None


def kept_header_problems(where: str, declared: Trigger, *, keeps_headers: bool) -> Iterator[str]:
    """What is wrong with ``declared.kept_headers``; a kind that ``keeps_headers`` not may
    list none."""
    names = declared.kept_headers
    if not isinstance(names, tuple):
        yield f"{where}: kept_headers must be a tuple of header names, not {names!r}"
        return
    if names and not keeps_headers:
        yield f"{where}: kept_headers: only a webhook trigger keeps headers"
    seen: set[str] = set()
    for name in names:
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            yield f"{where}: kept_headers: {name!r} is not an HTTP header name"
        elif name != name.lower():
            yield f"{where}: kept_headers: {name!r} is not lower-case (write {name.lower()!r})"
        elif name in _CREDENTIAL_HEADERS:
            yield f"{where}: kept_headers: {name!r} carries credentials and is never kept"
        elif name in seen:
            yield f"{where}: kept_headers: {name!r} is listed twice"
        else:
            seen.add(name)
