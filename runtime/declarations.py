"""What a component declares: frozen attrs values, checked when the component registers.

A component is data plus functions. Functions receive a context object (see ``runtime.context``)
and the cleaned input values as a plain ``dict`` keyed by input key. Every field is named where a
value is built (``Input(key="id", label="ID")``): the classes take keyword arguments only, so a
declaration reads as named fields and a reordered field cannot silently shift the others.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from attrs import field, frozen

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

InputType = Literal[
    "string",
    "password",
    "boolean",
    "number",
    "integer",
    "code",
    "date",
    "timestamp",
    "connection",
]
INPUT_TYPES: tuple[str, ...] = (
    "string",
    "password",
    "boolean",
    "number",
    "integer",
    "code",
    "date",
    "timestamp",
    "connection",
)
Collection = Literal["valuelist", "keyvaluelist"]

#: Marks an input with no default (``None`` is a legitimate default).
NO_DEFAULT: Any = type("NoDefault", (), {"__repr__": lambda self: "NO_DEFAULT"})()


@frozen(kw_only=True)
class Choice:
    """One allowed value of an input, with its label."""

    value: str
    label: str = ""


@frozen(kw_only=True)
class Input:
    """One input of an action, trigger, data source or connection.

    ``collection`` turns the input into a list of values (``valuelist``) or a list of
    ``{"key": ..., "value": ...}`` pairs (``keyvaluelist``). ``schema`` adds JSON Schema keywords
    (``pattern``, ``minimum``...) to the generated schema. ``clean`` runs after validation and
    returns the value the function receives (e.g. a URI reduced to its UUID).
    """

    key: str
    label: str
    type: InputType = "string"
    required: bool = False
    collection: Collection | None = None
    default: Any = NO_DEFAULT
    example: Any = None
    comments: str = ""
    choices: tuple[Choice, ...] = ()
    data_source: str | None = None
    schema: Mapping[str, Any] = field(factory=dict)
    clean: Callable[[Any], Any] | None = field(default=None, eq=False)

    @property
    def has_default(self) -> bool:
        """Whether a default was declared (``None`` counts as one)."""
        return self.default is not NO_DEFAULT


@frozen(kw_only=True)
class OAuth2Endpoints:
    """Where a connection's OAuth 2.0 server and API live for one set of field values."""

    authorize_url: str
    token_url: str
    api_base_url: str
    #: True when the authorization server grants consent to a plain GET (a sandbox), so relay
    #: can connect without a browser.
    headless_consent: bool = False
    introspect_url: str | None = None
    revoke_url: str | None = None


@frozen(kw_only=True)
class Connection:
    """How a component authenticates.

    ``kind="oauth2"``: authorization code grant. The standard inputs ``clientId``,
    ``clientSecret`` and ``scopes`` are read by key; ``endpoints`` maps the field values to the
    URLs to use (so e.g. a "use live server" flag can point at a sandbox).

    ``kind="api_key"``: a static key in the input named by ``token_input``, sent with every
    request to the API in the header ``api_key_header`` (default ``Authorization``, the value
    ``api_key_prefix`` + key; the prefix defaults to ``"Bearer "`` for ``Authorization`` and
    to nothing for any other header), or instead as the query parameter ``api_key_query``.
    It needs no OAuth endpoints: ``api_base_url`` (a URL, or a function of the field values
    returning one) says where the API is; ``endpoints`` may be given instead.
    """

    key: str
    label: str
    kind: Literal["oauth2", "api_key"]
    inputs: tuple[Input, ...]
    endpoints: Callable[[Mapping[str, Any]], OAuth2Endpoints] | None = field(default=None, eq=False)
    description: str = ""
    token_input: str = "apiKey"  # noqa: S105 - an input key, not a secret
    #: ``kind="api_key"``: where the API is (or see ``endpoints``).
    api_base_url: str | Callable[[Mapping[str, Any]], str] | None = field(default=None, eq=False)
    #: ``kind="api_key"``: the request header that carries the key.
    api_key_header: str = "Authorization"
    #: ``kind="api_key"``: written before the key in the header (``None``: ``"Bearer "`` for
    #: ``Authorization``, nothing for another header).
    api_key_prefix: str | None = None
    #: ``kind="api_key"``: send the key as this query parameter instead of a header.
    api_key_query: str | None = None
    #: Seconds before expiry at which a token is refreshed proactively.
    refresh_margin: float = 60.0
    #: ``test(ctx, connection)``: one cheap authenticated request (who am I) that raises the
    #: API's error when the connection does not work; what ``relay connections test`` and
    #: ``POST /api/v1/connections/NAME/test`` call. ``None``: the connection cannot be tested.
    test: Callable[..., Any] | None = field(default=None, eq=False)

    def endpoints_for(self, fields: Mapping[str, Any]) -> OAuth2Endpoints:
        """Where this connection's servers are for these (validated) field values."""
        if self.endpoints is not None:
            return self.endpoints(fields)
        base = self.api_base_url(fields) if callable(self.api_base_url) else self.api_base_url
        return OAuth2Endpoints(authorize_url="", token_url="", api_base_url=str(base or ""))

    def credential(self) -> tuple[str, str, str | None]:
        """How a token travels: (header, prefix, query parameter or ``None``)."""
        if self.kind != "api_key":
            return "Authorization", "Bearer ", None
        prefix = self.api_key_prefix
        if prefix is None:
            prefix = "Bearer " if self.api_key_header.lower() == "authorization" else ""
        return self.api_key_header, prefix, self.api_key_query


@frozen(kw_only=True)
class Action:
    """A keyed operation a flow step can call. ``perform(ctx, params)`` returns its output."""

    key: str
    label: str
    description: str
    inputs: tuple[Input, ...]
    perform: Callable[..., Any] = field(eq=False)
    output_schema: Mapping[str, Any] | None = None
    #: Sample outputs, as the action returns them (the conformance kit checks each against
    #: ``output_schema``).
    examples: tuple[Mapping[str, Any], ...] = ()
    #: Whether a call changes nothing anywhere (a read): ``True``, ``False``, or a function
    #: of the step's validated inputs (e.g. by HTTP method). The engine commits the previous
    #: step's checkpoint before a step that changes something starts; a read may go ahead
    #: (after a crash it may be read again). Undeclared actions count as changing something.
    read_only: bool | Callable[[Mapping[str, Any]], bool] = field(default=False, eq=False)

    def changes(self, params: Mapping[str, Any]) -> bool:
        """Whether calling this action with ``params`` may change something (see
        ``read_only``)."""
        if callable(self.read_only):
            return not self.read_only(params)
        return not self.read_only


@frozen(kw_only=True)
class DataSource:
    """A picklist: ``perform(ctx, params)`` returns ``[{"key": ..., "label": ...}, ...]``."""

    key: str
    label: str
    description: str
    inputs: tuple[Input, ...]
    perform: Callable[..., Any] = field(eq=False)


@frozen(kw_only=True)
class WebhookRequest:
    """A webhook delivery exactly as received: the raw body is what signatures cover."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    received_at: float

    def json(self) -> Any:
        """The body parsed as JSON (raises ``ValueError`` when it is not JSON)."""
        import json

        return json.loads(self.body)


@frozen(kw_only=True)
class TriggerEvent:
    """What a trigger hands to the flow: the payload plus an optional branch name."""

    payload: Mapping[str, Any]
    branch: str | None = None


@frozen(kw_only=True)
class PollResult:
    """A poll's outcome: the new items (empty: no run) and the cursor to persist."""

    items: tuple[Mapping[str, Any], ...]
    cursor: Any


@frozen(kw_only=True)
class Trigger:
    """Starts a flow.

    Webhook triggers: ``perform(ctx, request, params) -> TriggerEvent | None`` verifies and
    shapes a delivery (raise ``WebhookRejected`` to refuse it; ``None`` to accept and ignore it);
    ``on_deploy(ctx, params) -> dict`` and ``on_undeploy(ctx, params, deploy_state)`` manage
    the remote subscription for ``ctx.webhook_url``. A redeploy whose trigger inputs changed
    calls ``on_deploy`` again for the same ``ctx.webhook_url``, without ``on_undeploy``: it
    must replace what an earlier call set up for that URL (Calendly's reuses or replaces it).
    Polling triggers: ``poll(ctx, params, cursor) -> PollResult``.
    """

    key: str
    label: str
    description: str
    kind: Literal["webhook", "polling"]
    inputs: tuple[Input, ...]
    perform: Callable[..., Any] | None = field(default=None, eq=False)
    on_deploy: Callable[..., Any] | None = field(default=None, eq=False)
    on_undeploy: Callable[..., Any] | None = field(default=None, eq=False)
    poll: Callable[..., Any] | None = field(default=None, eq=False)
    branches: tuple[str, ...] = ()
    poll_interval: float = 300.0
    #: Webhook triggers: the request headers (lower-case names) a delivery record keeps and
    #: the flow may see, besides relay's own ``content-type`` and ``user-agent``; e.g. the
    #: sender's signature header, so a recorded delivery can be verified again. Every other
    #: header is dropped (it may carry credentials).
    kept_headers: tuple[str, ...] = ()
    #: Webhook triggers: what identifies a delivery, as dotted paths into the trigger payload
    #: (e.g. ``("body.event", "body.payload.uri")``): a delivery whose values were seen within
    #: the dedupe window is a duplicate, whatever its bytes. Empty: the body's SHA-256.
    dedupe_key: tuple[str, ...] = ()


@frozen(kw_only=True)
class Component:
    """A named bundle of connections, actions, triggers and data sources."""

    key: str
    label: str
    description: str
    connections: tuple[Connection, ...] = ()
    actions: tuple[Action, ...] = ()
    triggers: tuple[Trigger, ...] = ()
    data_sources: tuple[DataSource, ...] = ()
    version: str = "0.0.0"

    def action(self, key: str) -> Action | None:
        """The action with this key, if declared."""
        return next((a for a in self.actions if a.key == key), None)

    def trigger(self, key: str) -> Trigger | None:
        """The trigger with this key, if declared."""
        return next((t for t in self.triggers if t.key == key), None)

    def data_source(self, key: str) -> DataSource | None:
        """The data source with this key, if declared."""
        return next((d for d in self.data_sources if d.key == key), None)

    def connection(self, key: str) -> Connection | None:
        """The connection with this key, if declared."""
        return next((c for c in self.connections if c.key == key), None)
