"""The sandbox as a flow test sees it: one fresh sandbox per test case, driven by scenario
actions (book, cancel, break a calendar, fail the next calls), whose signed webhooks start
the case's runs.

relay's flow-test runner knows nothing of Calendly: it asks the ``flow_test_sandboxes`` hook
for a factory and talks to what it makes through the few members below.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import httpx

from .config import SandboxConfig
from .errors import ApiError
from .sandbox import Sandbox
from .webhooks import SIGNATURE_HEADER

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable, Mapping

#: The host the Calendly connection talks to by default (``sandboxUrl``'s default).
BASE_URL = "http://calendly.sandbox.invalid"

_TEXT = {"type": "string", "minLength": 1, "maxLength": 500}
_LABEL = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]{0,63}$"}
_WHEN = {"oneOf": [{"type": "string", "maxLength": 64}, {"type": "number"}]}
_INVITEE = {
    "type": "string",
    "minLength": 1,
    "maxLength": 500,
    "description": "a label given with `as`, an invitee URI or UUID; default: the last booked",
}


def _action(properties: Mapping[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": dict(properties),
        "required": list(required),
    }


#: Every scenario action with the JSON Schema of its arguments (``null`` means ``{}``).
SCENARIO_SCHEMA: dict[str, Any] = {
    "book": _action(
        {
            "event_type": _TEXT,
            "email": _TEXT,
            "name": _TEXT,
            "start_time": _WHEN,
            "in_days": {"type": "number", "minimum": -3650, "maximum": 3650},
            "as": _LABEL,
        }
    ),
    "cancel": _action({"invitee": _INVITEE, "reason": _TEXT}),
    "reschedule": _action(
        {
            "invitee": _INVITEE,
            "start_time": _WHEN,
            "in_days": {"type": "number", "minimum": -3650, "maximum": 3650},
            "as": _LABEL,
        }
    ),
    "no_show": _action({"invitee": _INVITEE}),
    "submit_routing_form": _action(
        {
            "form": _TEXT,
            "answers": {
                "type": "object",
                "maxProperties": 100,
                "additionalProperties": {"type": "string", "maxLength": 2000},
            },
        }
    ),
    "break_calendar": _action({"user": _TEXT}),
    "mend_calendar": _action({"user": _TEXT}),
    "fail_next": _action(
        {
            "status": {"type": "integer", "minimum": 400, "maximum": 599},
            "times": {"type": "integer", "minimum": 1, "maximum": 1000},
            "path": {"type": "string", "pattern": "^/", "maxLength": 500},
        },
        ("status",),
    ),
    "set_plan": _action({"plan": {"enum": ["free", "standard", "enterprise"]}}, ("plan",)),
}


def _ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200)


class _FailNext:
    """Answers the next API calls (OAuth left alone) with an error status, then stands aside."""

    def __init__(self, app: Any) -> None:
        self.app = app
        #: [status, calls left, path prefix]
        self.pending: list[list[Any]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        path = scope.get("path", "") if scope.get("type") == "http" else ""
        for entry in self.pending:
            status, left, prefix = entry
            if left and path.startswith(prefix) and not path.startswith("/oauth"):
                entry[1] -= 1
                await _error(send, status)
                return
        await self.app(scope, receive, send)


async def _error(send: Callable[[Any], Awaitable[None]], status: int) -> None:
    error = ApiError(status)
    body = json.dumps(error.body()).encode()
    headers = [(b"content-type", b"application/json")]
    if status == 429:
        headers.append((b"x-ratelimit-reset", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class TestSandbox:
    """One fresh Calendly sandbox for one flow test case (see the ``flow_test_sandboxes`` hook).

    ``clock`` is the case's clock (a ``ManualClock``): the sandbox's time, so seed data, ids and
    signatures come out the same on every run.
    """

    __test__ = False  # not a pytest test class
    #: The scenario actions and their arguments' schemas (read without making a sandbox).
    scenario_schema: Mapping[str, Any] = SCENARIO_SCHEMA

    def __init__(self, clock: Any) -> None:
        self.sandbox = Sandbox(
            SandboxConfig(base_url=BASE_URL),
            clock=clock.time,
            sleep=clock.sleep,
            webhook_transport=httpx.MockTransport(_ok),
        )
        self._front = _FailNext(self.sandbox.app)
        self.hosts: dict[str, Any] = {BASE_URL.split("://", 1)[1]: self._front}
        self._labels: dict[str, dict[str, Any]] = {}

    async def act(self, action: str, arguments: Mapping[str, Any]) -> None:
        """Do one scenario action; ``ValueError`` says why one cannot be done."""
        handler = getattr(self, f"_{action}", None)
        if action not in SCENARIO_SCHEMA or handler is None:
            raise ValueError(f"unknown scenario action {action!r}")
        try:
            handler(dict(arguments))
        except ApiError as exc:
            raise ValueError(f"{action}: {exc.message}") from None
        except KeyError as exc:
            raise ValueError(f"{action}: no such {exc.args[0]!r} in the sandbox") from None

    async def webhooks(self, url: str) -> list[dict[str, Any]]:
        """Every signed delivery sent to ``url`` so far, as relay's endpoint received it
        (``method``, ``url``, ``headers``, ``body`` bytes, ``received_at``)."""
        await self.sandbox.drain_webhooks()
        return [
            {
                "method": "POST",
                "url": delivery.url,
                "headers": {
                    "Content-Type": "application/json",
                    SIGNATURE_HEADER: delivery.signatures[-1],
                },
                "body": delivery.body.encode(),
                "received_at": self.sandbox.clock(),
            }
            for delivery in self.sandbox.deliveries
            if delivery.url == url and delivery.signatures
        ]

    def facts(self) -> dict[str, Any]:
        """What assertions read as ``sandbox``: the labelled invitees as they are now, counts
        of events by status, calendars broken, deliveries made."""
        state = self.sandbox.state
        by_status: dict[str, int] = {}
        for event in state.events.values():
            by_status[event.status] = by_status.get(event.status, 0) + 1
        invitees = {}
        for label, booked in self._labels.items():
            found = state.invitees.get(booked["uri"].rsplit("/", 1)[-1])
            invitees[label] = self.sandbox.render.invitee(found) if found else None
        return {
            "invitees": invitees,
            "events": by_status,
            "broken_calendars": sorted(state.calendar_errors),
            "deliveries": len(self.sandbox.deliveries),
            "plan": self.sandbox.plan,
        }

    # -- the actions ---------------------------------------------------------------------------

    def _start(self, args: Mapping[str, Any]) -> Any:
        if "in_days" in args:
            return self.sandbox.clock() + float(args["in_days"]) * 86400
        return args.get("start_time")

    def _invitee(self, args: Mapping[str, Any]) -> str:
        ref = args.get("invitee")
        if ref is None:
            if "last" not in self._labels:
                raise ValueError("no invitee booked yet: book one first, or name `invitee`")
            return str(self._labels["last"]["uri"])
        if ref in self._labels:
            return str(self._labels[ref]["uri"])
        return str(ref)

    def _keep(self, invitee: dict[str, Any], label: str | None) -> None:
        self._labels["last"] = invitee
        if label:
            self._labels[label] = invitee

    def _book(self, args: dict[str, Any]) -> None:
        invitee = self.sandbox.book(
            args.get("event_type"), self._start(args), args.get("email"), args.get("name")
        )
        self._keep(invitee, args.get("as"))

    def _cancel(self, args: dict[str, Any]) -> None:
        self.sandbox.cancel(self._invitee(args), args.get("reason"))

    def _reschedule(self, args: dict[str, Any]) -> None:
        invitee = self.sandbox.reschedule(self._invitee(args), self._start(args))
        self._keep(invitee, args.get("as"))

    def _no_show(self, args: dict[str, Any]) -> None:
        self.sandbox.mark_no_show(self._invitee(args))

    def _submit_routing_form(self, args: dict[str, Any]) -> None:
        self.sandbox.submit_routing_form(args.get("form"), args.get("answers"))

    def _user(self, args: Mapping[str, Any]) -> str:
        ref = args.get("user")
        user = self.sandbox.resolve_user(ref)
        if user is None:
            raise ValueError(f"no user {ref!r} in the sandbox")
        return user

    def _break_calendar(self, args: dict[str, Any]) -> None:
        self.sandbox.set_calendar_error(self._user(args), True)

    def _mend_calendar(self, args: dict[str, Any]) -> None:
        self.sandbox.set_calendar_error(self._user(args), False)

    def _fail_next(self, args: dict[str, Any]) -> None:
        self._front.pending.append([args["status"], args.get("times", 1), args.get("path", "/")])

    def _set_plan(self, args: dict[str, Any]) -> None:
        self.sandbox.set_plan(args["plan"])
