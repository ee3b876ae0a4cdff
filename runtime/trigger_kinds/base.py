"""The contract of a trigger kind: what a flow's parsed ``trigger:`` knows how to do.

A kind is one class. Its instances are parsed triggers (``Flow.trigger``): the class parses
the flow's ``trigger:`` mapping (``parse``), and the instance shapes deliveries (webhook
kinds), fires on a timer (time kinds) and takes part in deploy and undeploy. What a kind may
use of the service around it is spelled out by the protocols below, so this module depends on
no service code.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self

from runtime.dedupe import body_key, dedupe_problem
from runtime.errors import WebhookRejected
from runtime.expressions import has_template

if TYPE_CHECKING:
    from collections.abc import Mapping

    from runtime.clock import Clock
    from runtime.connections import ConnectionHandle
    from runtime.declarations import Component, PollResult, TriggerEvent, WebhookRequest
    from runtime.expressions import Template
    from runtime.flows.model import Flow
    from runtime.flows.yamlsource import Path
    from runtime.inputs import InputSchema
    from runtime.redaction import Redactor
    from runtime.registry import Registry
    from runtime.store.records import Instance

#: Headers every delivery record keeps (never credentials); a kind adds what it needs.
BASE_KEPT_HEADERS = frozenset({"content-type", "user-agent"})


class TriggerParsing(Protocol):
    """What a kind's ``parse`` may use of the flow compiler; problems are collected there.

    ``parse`` is called only with a ``trigger:`` mapping the flow schema accepted, so it may
    rely on the shape its ``form`` describes.
    """

    @property
    def registry(self) -> Registry:
        """The installed components."""
        ...

    @property
    def config(self) -> Mapping[str, Any]:
        """The flow's ``config:`` mapping as written (empty when it has none)."""
        ...

    def error(self, path: Path, message: str) -> None:
        """Report a problem at ``path`` (``("trigger", ...)``) as ``FILE:LINE:COL``."""
        ...

    def values(self, raw: Any, path: Path) -> Any:
        """``raw`` with each ``${{ }}`` string compiled to a ``Template`` (problems reported)."""
        ...

    def template(self, written: str, path: Path) -> Template | None:
        """``written`` compiled (``None``, with its problem reported, when it does not)."""
        ...

    def check_inputs(
        self, schema: InputSchema, raw: Mapping[str, Any], compiled: Mapping[str, Any], path: Path
    ) -> None:
        """Unknown, missing and mistyped inputs of a component's trigger."""
        ...

    def known(self, what: str, component: Component) -> list[str]:
        """The keys of a component's ``what`` (``"triggers"``...), for did-you-mean hints."""
        ...


class TriggerRuntime(Protocol):
    """What a kind calls on the runtime (``runtime.api.Runtime`` is one)."""

    @property
    def registry(self) -> Registry:
        """The installed components."""
        ...

    @property
    def clock(self) -> Clock:
        """The runtime's clock."""
        ...

    @property
    def redactor(self) -> Redactor:
        """The scrubber that must learn every secret a kind comes to hold."""
        ...

    async def resolve_config(
        self, flow: Flow, values: Mapping[str, Any], *, key_prefix: str = ""
    ) -> tuple[dict[str, Any], dict[str, ConnectionHandle]]:
        """A flow's config scope and connection handles for config ``values``."""
        ...

    async def deploy_trigger(
        self, ref: str, inputs: Mapping[str, Any], *, webhook_url: str
    ) -> dict[str, Any]:
        """A component trigger's ``on_deploy``."""
        ...

    async def undeploy_trigger(
        self,
        ref: str,
        inputs: Mapping[str, Any],
        *,
        webhook_url: str,
        deploy_state: Mapping[str, Any],
    ) -> None:
        """A component trigger's ``on_undeploy``."""
        ...

    async def webhook_event(
        self,
        ref: str,
        inputs: Mapping[str, Any],
        request: WebhookRequest,
        *,
        deploy_state: Mapping[str, Any] | None = None,
    ) -> TriggerEvent | None:
        """A component trigger's ``perform`` on one delivery."""
        ...

    async def poll(self, ref: str, inputs: Mapping[str, Any], cursor: Any) -> PollResult:
        """A component trigger's ``poll``."""
        ...


class TriggerStore(Protocol):
    """What a kind reads and writes in the store."""

    async def create_execution(
        self, instance: str | None, flow_text: str, flow_version: int, payload: Any
    ) -> str:
        """Record a pending execution; returns its id."""
        ...

    async def get_cursor(self, instance: str) -> Any:
        """The poll cursor last set for ``instance``."""
        ...

    async def set_cursor(self, instance: str, cursor: Any) -> None:
        """Persist ``instance``'s poll cursor."""
        ...


class DeliveryHost(Protocol):
    """What shaping a delivery may use: the runtime and an instance's resolved config
    (``runtime.intake.WebhookIntake`` is one)."""

    @property
    def runtime(self) -> TriggerRuntime:
        """The service's runtime."""
        ...

    async def connections(
        self, instance: Instance, flow: Flow
    ) -> tuple[dict[str, Any], dict[str, ConnectionHandle]]:
        """``instance``'s config scope and connection handles."""
        ...


class TriggerHost(DeliveryHost, Protocol):
    """The service a deployed trigger runs in (``runtime.service.Service`` is one)."""

    @property
    def store(self) -> TriggerStore:
        """The service's store."""
        ...

    def webhook_url(self, instance: Instance) -> str:
        """Where deliveries to ``instance`` are posted."""
        ...


class FlowTrigger(ABC):
    """A parsed ``trigger:`` of one kind; subclasses are frozen ``attrs`` classes.

    To add a kind: subclass, set ``kind``, ``key`` and ``form``, implement ``parse`` and the
    methods the kind needs (the defaults describe a trigger that only runs when asked), and
    register the class (``TriggerKinds.add``).
    """

    #: The kind's name, as ``flow.trigger.kind`` (several classes may share one, as the two
    #: component kinds share ``component``).
    kind: ClassVar[str]
    #: The key of the ``trigger:`` mapping that selects this kind (``webhook:``, ``component:``).
    key: ClassVar[str]
    #: The JSON Schema of the ``trigger:`` mapping of this kind; its ``required`` starts with
    #: ``key``. Kinds sharing a ``key`` share the form.
    form: ClassVar[Mapping[str, Any]]
    #: Whether deliveries are posted to the instance's webhook URL.
    receives_webhooks: ClassVar[bool] = False

    @classmethod
    def claims(cls, raw: Mapping[str, Any], registry: Registry) -> bool:
        """Whether this kind parses ``raw`` (a schema-valid ``trigger:`` mapping)."""
        return cls.key in raw

    @classmethod
    @abstractmethod
    def parse(cls, raw: Mapping[str, Any], parsing: TriggerParsing) -> Self:
        """The trigger ``raw`` describes; problems go to ``parsing.error``."""

    # -- webhook intake ------------------------------------------------------------------

    def kept_headers(self) -> frozenset[str]:
        """The request headers (lower-case) a delivery record keeps and the flow may see."""
        return BASE_KEPT_HEADERS

    async def shape(
        self, host: DeliveryHost, instance: Instance, flow: Flow, request: WebhookRequest
    ) -> dict[str, Any] | None:
        """A delivery as the flow's trigger payload (``None``: accept and ignore it); raise
        ``WebhookRejected`` to refuse it."""
        raise WebhookRejected("this flow is not triggered by webhooks", status=405)

    def dedupe_key(self, request: WebhookRequest, payload: Mapping[str, Any]) -> str | None:
        """The identity of a delivery shaped into ``payload`` (``runtime.dedupe``): one seen
        within the dedupe window is a duplicate; ``None``: it has none and always runs. Raise
        ``WebhookRejected`` for a delivery whose identity is malformed. By default, the
        body's SHA-256 (the same bytes again are the same delivery)."""
        return body_key(request.body)

    # -- time ----------------------------------------------------------------------------

    def interval(self) -> float | None:
        """Seconds between firings, or ``None`` when time does not trigger the flow."""
        return None

    async def fire(self, host: TriggerHost, instance: Instance, flow: Flow) -> str | None:
        """Fire once (called under the instance's fire lock); returns the execution recorded,
        if any. Only called when ``interval`` is not ``None``."""
        raise NotImplementedError(f"a {self.kind} trigger does not fire on a timer")

    # -- deploy --------------------------------------------------------------------------

    def initial_deploy_state(
        self, flow: Flow, config: Mapping[str, Any], redactor: Redactor | None
    ) -> dict[str, Any] | None:
        """What the instance's (encrypted) deploy state starts with, worked out before the
        instance is stored; raise ``ConfigurationError`` when ``config`` cannot serve it.
        Secrets in it are taught to ``redactor``."""
        return None

    async def deploy(
        self, host: TriggerHost, instance: Instance, flow: Flow
    ) -> Mapping[str, Any] | None:
        """The step run once the instance is stored (e.g. subscribe ``webhook_url``); returns
        the deploy state to store instead, or ``None`` to keep it. A ``RelayError`` undoes
        the deploy."""
        return None

    async def undeploy(self, host: TriggerHost, instance: Instance, flow: Flow) -> None:
        """The step run before the instance is removed (e.g. unsubscribe)."""
        return None


def parse_dedupe(raw: Mapping[str, Any], parsing: TriggerParsing) -> Template | None:
    """The ``dedupe:`` expression of a ``trigger:`` mapping (``None``: none, or its problem
    is reported at ``trigger.dedupe``)."""
    written = raw.get("dedupe")
    if written is None:
        return None
    path: Path = ("trigger", "dedupe")
    if not has_template(written):
        parsing.error(path, "dedupe must be an expression, e.g. ${{ trigger.body.id }}")
        return None
    template = parsing.template(written, path)
    if template is None:
        return None
    problem = dedupe_problem(template)
    if problem is not None:
        parsing.error(path, problem)
        return None
    return template
