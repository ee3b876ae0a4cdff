"""The only doubles a flow test has: step fixtures (a step's outcome replaced, its inputs still
rendered and checked) and request fixtures (one component request answered here, every other
one reaching the sandbox), with every request recorded for assertions."""

from __future__ import annotations

import copy
import json
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import attrs

from runtime.errors import FatalApiError, RelayError, RetriableApiError
from runtime.plans import ActionPlan, ActionPlans
from runtime.redaction import REDACTED, Redactor

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Mapping

    from runtime.flows.model import ActionStep
    from runtime.flowtests.model import RequestFixture, StepFixture
    from runtime.registry import Registry

#: Request bodies kept for assertions are cut at this many characters.
MAX_BODY_TEXT = 20_000
_NAMES_ONLY = Redactor()


class FixtureError(RelayError):
    """The error a step fixture's ``error`` stands for (without a ``status``)."""


def _raiser(error: Mapping[str, Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    message = str(error.get("message", ""))

    async def perform(_ctx: Any, _params: Any) -> Any:
        status = error.get("status")
        if status is None:
            raise FixtureError(message)
        kind = RetriableApiError if error.get("retriable") else FatalApiError
        raise kind(int(status), str(error.get("title", "")), message)

    return perform


def _returner(output: Any) -> Callable[..., Coroutine[Any, Any, Any]]:
    async def perform(_ctx: Any, _params: Any) -> Any:
        return copy.deepcopy(output)  # a later step changing it must not change the next run

    return perform


class FixturePlans(ActionPlans):
    """The runtime's action plans, with the steps that have a fixture performing it instead."""

    def __init__(
        self, registry: Registry, base: ActionPlans, fixtures: Mapping[str, StepFixture]
    ) -> None:
        super().__init__(registry)
        self._base = base
        self._fixtures = fixtures
        self._made: dict[int, tuple[ActionStep, ActionPlan]] = {}

    def get(self, step: ActionStep) -> ActionPlan:
        """The step's plan; a fixture's step gets one performing the fixture."""
        plan = self._base.get(step)
        fixture = self._fixtures.get(step.id)
        if fixture is None:
            return plan
        made = self._made.get(id(step))
        if made is None or made[0] is not step:
            perform = _raiser(fixture.error) if fixture.error else _returner(fixture.output)
            action = attrs.evolve(plan.action, perform=perform)
            made = (step, attrs.evolve(plan, action=action))
            self._made[id(step)] = made
        return made[1]


def _pattern(path: str) -> re.Pattern[str]:
    """``*`` matches within one path segment; everything else literally."""
    return re.compile("[^/]*".join(re.escape(part) for part in path.split("*")) + "/?")


class Recorder:
    """Sees every request of a case (``runtime.transport.InterceptingRouter``): answers those
    a request fixture matches, keeps every request and its status for assertions."""

    def __init__(
        self, fixtures: tuple[RequestFixture, ...] = (), redactor: Redactor | None = None
    ) -> None:
        #: the runtime's secrets (tokens it has seen), scrubbed from what is kept
        self.redactor = redactor or _NAMES_ONLY
        self._fixtures = [(f, _pattern(f.path)) for f in fixtures]
        self._left = [f.times for f in fixtures]
        #: the requests so far: method, host, path, query, body, status, fixture
        self.requests: list[dict[str, Any]] = []

    def answer(self, seen: Mapping[str, Any]) -> tuple[int, Mapping[str, str], bytes] | None:
        """The first matching fixture with answers left, as ``(status, headers, body)``."""
        for index, (fixture, pattern) in enumerate(self._fixtures):
            left = self._left[index]
            if left == 0 or fixture.method != seen["method"]:
                continue
            if fixture.host is not None and fixture.host.lower() != str(seen["host"]).lower():
                continue
            if not pattern.fullmatch(str(seen["path"])):
                continue
            if left is not None:
                self._left[index] = left - 1
            return _response(fixture)
        return None

    def answered(self, seen: Mapping[str, Any], status: int, *, here: bool) -> None:
        """Keep the request (its body parsed and secret-named keys scrubbed)."""
        self.requests.append(
            self.redactor.value(
                {
                    "method": seen["method"],
                    "host": seen["host"],
                    "path": seen["path"],
                    "query": _NAMES_ONLY.value(dict(seen["query"])),
                    "body": _body(seen["headers"].get("content-type", ""), seen["body"]),
                    "status": status,
                    "fixture": here,
                }
            )
        )


def _response(fixture: RequestFixture) -> tuple[int, Mapping[str, str], bytes]:
    headers = dict(fixture.headers)
    body = fixture.body
    if body is None:
        return fixture.status, headers, b""
    if isinstance(body, str):
        headers.setdefault("content-type", "text/plain; charset=utf-8")
        return fixture.status, headers, body.encode()
    headers.setdefault("content-type", "application/json")
    return fixture.status, headers, json.dumps(body).encode()


def _body(kind: str, raw: bytes) -> Any:
    if not raw:
        return None
    text = raw.decode("utf-8", "replace")
    if "json" in kind:
        try:
            return _NAMES_ONLY.value(json.loads(text))
        except ValueError:
            pass
    elif "x-www-form-urlencoded" in kind:
        form = dict(parse_qsl(text, keep_blank_values=True))
        if "code" in form:  # an OAuth authorization code: a credential until it is used
            form["code"] = REDACTED
        return _NAMES_ONLY.value(form)
    return text[:MAX_BODY_TEXT]
