"""Raw Request: any Calendly API call with the connection's token.

The token only ever goes to the connection's API host: ``HttpClient`` refuses absolute URLs
on other hosts. Retries are this action's own (count, fixed delay or exponential backoff,
optionally on every error), so the client is asked for none.

Only GET, HEAD and OPTIONS count as reads; any other method may change something, so it is
declared as such and carries the step's ``Idempotency-Key`` (unless the user sends their own).
"""

from __future__ import annotations

import base64
import json
from typing import TYPE_CHECKING, Any

from components.calendly.client import IDEMPOTENCY_HEADER, write_headers
from components.calendly.inputs import CONNECTION
from runtime import Action, ApiError, Choice, Input

if TYPE_CHECKING:
    from collections.abc import Mapping

    from runtime import Context, Response

#: Headers whose values never appear in the debug log.
_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})
_REDACTED = "[redacted]"
#: Exponential backoff: 1 s, 2 s, 4 s... capped at one minute.
_BACKOFF_BASE = 1.0
_BACKOFF_MAX = 60.0
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
#: The methods that only read (RFC 9110's safe methods among ``_METHODS``).
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _whole_number(value: Any) -> int:
    """Cleaner for the reference's numeric string inputs (``"0"``, ``"2000"``)."""
    return int(value)


def _json_body(value: Any) -> Any:
    """Cleaner for ``data``: JSON text is parsed; a structured value is sent as is."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"is not valid JSON ({exc.msg} at column {exc.colno})") from exc
        except RecursionError:
            raise ValueError("is JSON nested too deeply to read") from None
    return value


# The reference types these as strings; flows may pass numbers too, so both are accepted.
_NUMBER_TEXT: dict[str, Any] = {
    "type": ["string", "integer"],
    "pattern": r"^\s*\d+\s*$",
    "minimum": 0,
}

INPUTS: tuple[Input, ...] = (
    CONNECTION,
    Input(
        key="data",
        label="Data",
        comments="The HTTP body payload to send to the URL.",
        example='{"exampleKey": "Example Data"}',
        schema={"type": ["string", "object", "array"]},
        clean=_json_body,
    ),
    Input(
        key="debugRequest",
        label="Debug Request",
        type="boolean",
        default=False,
        comments="Enabling this flag will log out the current request.",
    ),
    Input(
        key="fileData",
        label="File Data",
        collection="keyvaluelist",
        comments="File Data to be sent as a multipart form upload.",
        example='[{key: "example.txt", value: "My File Contents"}]',
    ),
    Input(
        key="fileDataFileNames",
        label="File Data File Names",
        collection="keyvaluelist",
        comments=(
            "File names to apply to the file data inputs. Keys must match the file data keys above."
        ),
    ),
    Input(
        key="formData",
        label="Form Data",
        collection="keyvaluelist",
        comments="The Form Data to be sent as a multipart form upload.",
        example='[{"key": "Example Key", "value": new Buffer("Hello World")}]',
    ),
    Input(
        key="headers",
        label="Header",
        collection="keyvaluelist",
        comments="A list of headers to send with the request.",
        example="User-Agent: curl/7.64.1",
    ),
    Input(
        key="maxRetries",
        label="Max Retry Count",
        default="0",
        schema=_NUMBER_TEXT,
        clean=_whole_number,
        comments="The maximum number of retries to attempt. Specify 0 for no retries.",
    ),
    Input(
        key="method",
        label="Method",
        required=True,
        comments="The HTTP method to use.",
        choices=tuple(Choice(value=m, label=m) for m in _METHODS),
    ),
    Input(
        key="queryParams",
        label="Query Parameter",
        collection="keyvaluelist",
        comments=(
            "A list of query parameters to send with the request. This is the portion at the end "
            "of the URL similar to ?key1=value1&key2=value2."
        ),
    ),
    Input(
        key="responseType",
        label="Response Type",
        required=True,
        default="json",
        comments=(
            "The type of data you expect in the response. You can request json, text, "
            "or binary data."
        ),
        choices=(
            Choice(value="json", label="JSON"),
            Choice(value="text", label="Text"),
            Choice(value="binary", label="Binary"),
        ),
    ),
    Input(
        key="retryAllErrors",
        label="Retry On All Errors",
        type="boolean",
        default=False,
        comments=(
            "If true, retries on all erroneous responses regardless of type. This is helpful when "
            "retrying after HTTP 429 or other 3xx or 4xx errors. Otherwise, only retries on HTTP "
            "5xx and network errors."
        ),
    ),
    Input(
        key="retryDelayMS",
        label="Retry Delay (ms)",
        default="0",
        schema=_NUMBER_TEXT,
        clean=_whole_number,
        comments=(
            "The delay in milliseconds between retries. This is used when 'Use Exponential "
            "Backoff' is disabled."
        ),
    ),
    Input(
        key="timeout",
        label="Timeout",
        example="2000",
        schema=_NUMBER_TEXT,
        clean=_whole_number,
        comments="The maximum time that a client will await a response to its request",
    ),
    Input(
        key="url",
        label="URL",
        required=True,
        example="/users/me",
        comments=(
            "Input the path only (/users/me), The base URL is already included "
            "(https://api.calendly.com). For example, to connect to "
            "https://api.calendly.com/users/me, only /users/me is entered in this field."
        ),
    ),
    Input(
        key="useExponentialBackoff",
        label="Use Exponential Backoff",
        type="boolean",
        default=False,
        comments=(
            "Specifies whether to use a pre-defined exponential backoff strategy for "
            "retries. When enabled, 'Retry Delay (ms)' is ignored."
        ),
    ),
)


def _pairs(params: Mapping[str, Any], key: str) -> list[tuple[str, str]]:
    return [(str(kv["key"]), str(kv["value"])) for kv in params.get(key) or ()]


def _query(params: Mapping[str, Any]) -> dict[str, str | list[str]] | None:
    """``queryParams`` as a mapping; a repeated key is sent once per value."""
    query: dict[str, str | list[str]] = {}
    for key, value in _pairs(params, "queryParams"):
        previous = query.get(key)
        if previous is None:
            query[key] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            query[key] = [previous, value]
    return query or None


def _files(params: Mapping[str, Any]) -> dict[str, tuple[str, bytes]] | None:
    """``fileData`` as multipart files, named by ``fileDataFileNames`` (default: the key)."""
    names = dict(_pairs(params, "fileDataFileNames"))
    files = {
        key: (names.get(key, key), value.encode()) for key, value in _pairs(params, "fileData")
    }
    return files or None


def should_retry(error: ApiError, retry_all: bool) -> bool:
    """Network errors (status 0), 5xx and rate limits; every error with ``retryAllErrors``."""
    return retry_all or error.status == 0 or error.status == 429 or error.status >= 500


def retry_delay(params: Mapping[str, Any], attempt: int, error: ApiError) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based).

    A rate limit waits at least until Calendly's window resets (``X-RateLimit-Reset``).
    """
    if params.get("useExponentialBackoff"):
        delay = min(_BACKOFF_MAX, _BACKOFF_BASE * float(2 ** (attempt - 1)))
    else:
        delay = int(params.get("retryDelayMS", 0)) / 1000
    return max(delay, error.retry_after or 0.0)


def _debug_log(ctx: Context, method: str, url: str, request: Mapping[str, Any]) -> None:
    """Log the request as sent, with the bearer token and other secret headers redacted."""
    headers = {
        k: (_REDACTED if k.lower() in _SECRET_HEADERS else v)
        for k, v in (request.get("headers") or {}).items()
    }
    headers["Authorization"] = f"Bearer {_REDACTED}"
    # Warning level: the user asked for this log explicitly, and relay's default log level
    # (warning) would hide an info line.
    ctx.logger.warning(
        "calendly raw request",
        method=method,
        url=url,
        headers=headers,
        query=request.get("params"),
        json=request.get("json"),
        form=request.get("data"),
        files=sorted(request.get("files") or ()),
        timeout=request.get("timeout"),
    )


def reads_only(params: Mapping[str, Any]) -> bool:
    """Whether the request the validated ``params`` describe only reads (by its method)."""
    return str(params.get("method", "")).upper() in READ_METHODS


def _headers(ctx: Context, params: Mapping[str, Any]) -> dict[str, str] | None:
    """The user's headers, plus the step's idempotency key on a request that changes
    something (a key the user set themselves is theirs to keep)."""
    headers = dict(_pairs(params, "headers"))
    own = {name.lower() for name in headers}
    if not reads_only(params) and IDEMPOTENCY_HEADER.lower() not in own:
        headers.update(write_headers(ctx) or {})
    return headers or None


def _request_args(ctx: Context, params: Mapping[str, Any]) -> dict[str, Any]:
    """``HttpClient.request`` keyword arguments for the inputs that were set."""
    files = _files(params)
    form = dict(_pairs(params, "formData")) or None
    timeout = params.get("timeout")
    return {
        "params": _query(params),
        "headers": _headers(ctx, params),
        "json": params.get("data") if not (files or form) else None,
        "data": form,
        "files": files,
        "timeout": timeout / 1000 if timeout else None,
    }


def _decode(response: Response, response_type: str) -> Any:
    if response_type == "binary":
        return base64.b64encode(response.content).decode("ascii")
    if response_type == "text":
        return response.text
    return response.json()


async def raw_request(ctx: Context, params: dict[str, Any]) -> dict[str, Any]:
    """Send the request, retrying as configured; return body, status and headers."""
    http = ctx.http(params["connection"])
    method = str(params["method"]).upper()
    request = _request_args(ctx, params)
    if params.get("debugRequest"):
        _debug_log(ctx, method, http.url(params["url"]), request)
    attempt = 0
    while True:
        try:
            response = await http.request(method, params["url"], retries=0, **request)
            break
        except ApiError as error:
            attempt += 1
            if attempt > params["maxRetries"] or not should_retry(error, params["retryAllErrors"]):
                raise
            await ctx.sleep(retry_delay(params, attempt, error))
    return {
        "data": _decode(response, params["responseType"]),
        "status": response.status,
        "headers": dict(response.headers.items()),
    }


RAW_REQUEST = Action(
    key="rawRequest",
    label="Raw Request",
    description="Send raw HTTP request to Calendly",
    inputs=INPUTS,
    perform=raw_request,
    read_only=reads_only,
    output_schema={
        "type": "object",
        "properties": {
            "data": {},
            "status": {"type": "integer"},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "required": ["data", "status", "headers"],
    },
)

ACTIONS: tuple[Action, ...] = (RAW_REQUEST,)
