"""Errors as RFC 9457 problem details (``application/problem+json``), and the route class that
turns every failure of a handler into one: no request gets a traceback or a bare 500.

A problem's ``type`` is a URN naming the kind of problem (``urn:relay:problem:validation``); a
validation problem lists each field at fault with where it was (``query``, ``path``, ``body``,
``header``) and its JSON path.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import structlog
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException

from runtime.errors import ConfigurationError, NotFound, RelayError

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence

    from fastapi import Request, Response

log = structlog.get_logger("relay.api")

MEDIA_TYPE = "application/problem+json"
#: The titles of the statuses the API answers with (RFC 9110's reason phrases).
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


class FieldProblem(BaseModel):
    """One field at fault in a request."""

    location: str = Field(description="Where the field is: query, path, body or header.")
    field: str = Field(description="The field's JSON path within its location, e.g. $.limit.")
    message: str


class Problem(BaseModel):
    """An RFC 9457 problem details document."""

    type: str = Field(description="A URN naming the kind of problem.")
    title: str
    status: int
    detail: str
    errors: list[FieldProblem] | None = Field(
        default=None, description="Validation problems: each field at fault."
    )


class ApiProblem(Exception):
    """A handler's way to answer with a problem (``status``, ``kind``, ``detail``)."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        errors: Sequence[FieldProblem] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.errors = list(errors)
        self.headers = dict(headers or {})


def problem_response(
    status: int,
    kind: str,
    detail: str,
    *,
    errors: Sequence[FieldProblem] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """A problem details response."""
    body = Problem(
        type=f"urn:relay:problem:{kind}",
        title=TITLES.get(status, "Error"),
        status=status,
        detail=detail,
        errors=list(errors) or None,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type=MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def json_path(parts: Iterable[Any]) -> str:
    """``("a", 0, "b")`` as ``$.a[0].b`` (keys that are not plain names bracketed)."""
    path = "$"
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            path += f".{part}"
        else:
            path += f"[{str(part)!r}]"
    return path


def validation_problems(exc: RequestValidationError) -> list[FieldProblem]:
    """Each error pydantic found, as the field it names (its input value left out: it may be
    a secret sent in the wrong place)."""
    found = []
    for error in exc.errors():
        location, *rest = error.get("loc") or ("body",)
        found.append(
            FieldProblem(
                location=str(location),
                field=json_path(rest),
                message=str(error.get("msg", "invalid")),
            )
        )
    return found


def answer_for(exc: Exception, request: Request) -> Response:
    """The problem response for an exception a handler raised."""
    if isinstance(exc, ApiProblem):
        return problem_response(
            exc.status, exc.kind, exc.detail, errors=exc.errors, headers=exc.headers
        )
    if isinstance(exc, RequestValidationError):
        return problem_response(
            422, "validation", "the request is not valid", errors=validation_problems(exc)
        )
    if isinstance(exc, HTTPException):
        return problem_response(
            exc.status_code,
            "http",
            str(exc.detail),
            headers=exc.headers,
        )
    if isinstance(exc, NotFound):
        return problem_response(404, "not-found", str(exc))
    if isinstance(exc, ConfigurationError):
        return problem_response(409, "conflict", str(exc))
    if isinstance(exc, RelayError):
        return problem_response(400, "bad-request", str(exc))
    # the type only: a message may quote what it was given
    log.error(
        "management API request failed",
        path=request.url.path,
        method=request.method,
        error=type(exc).__name__,
    )
    return problem_response(500, "internal", "the server could not answer this request")


class ProblemRoute(APIRoute):
    """A route whose every failure (validation, a relay error, a bug) is a problem response,
    answered here rather than left to the server's middleware (which would re-raise it and
    log a traceback)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        """The handler, wrapped."""
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as exc:  # every failure becomes a problem (see the class)
                return answer_for(exc, request)

        return answer


def finite(value: Any) -> Any:
    """``value`` with every non-finite float as a string (``"NaN"``, ``"Infinity"``,
    ``"-Infinity"``): JSON has no such numbers, and a payload may hold them."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite(v) for v in value]
    return value
