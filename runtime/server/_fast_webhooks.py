"""The webhook hot path: ``POST /webhooks/{token}`` answered in plain ASGI, without Starlette's
request and response objects, middleware or route matching per delivery.

``FastWebhookApp`` is the Starlette app with the plain routes (``runtime.server.webhooks``),
which answers webhook deliveries itself and hands every other request to Starlette (so
``GET /webhooks/x`` is still Starlette's 405). It answers what the plain route answers (a
property test holds the two paths to the same status, body and headers).
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.datastructures import URL

from runtime.server.webhooks import MAX_BODY, Answer, WebhookAnswers

if TYPE_CHECKING:
    from starlette.types import Receive, Scope, Send

_WEBHOOKS = "/webhooks/"
_JSON = (b"content-type", b"application/json")
_ERROR_BODY = b"Internal Server Error"
#: URLs remembered per app at most (a webhook URL repeats; past this the cache starts over).
_MAX_URLS = 1024


class _Urls:
    """``str(URL(scope=scope))`` of the requests one app served, remembered."""

    def __init__(self) -> None:
        self._seen: dict[tuple[Any, ...], str] = {}

    def of(self, scope: Scope) -> str:
        host = next((v for k, v in scope["headers"] if k == b"host"), None)
        key = (
            scope.get("scheme"),
            scope.get("server"),
            scope.get("root_path", ""),
            scope["path"],
            scope.get("query_string", b""),
            host,
        )
        url = self._seen.get(key)
        if url is None:
            if len(self._seen) > _MAX_URLS:
                self._seen.clear()
            url = self._seen[key] = str(URL(scope=scope))
        return url


class _BodyTooLarge(Exception):
    pass


class FastWebhookApp(Starlette):
    """Starlette, with ``POST /webhooks/{token}`` answered directly by ``answers``."""

    def __init__(self, answers: WebhookAnswers, **starlette: Any) -> None:
        super().__init__(**starlette)
        self._answers = answers
        self._urls = _Urls()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Deliveries here; everything else to Starlette."""
        if scope["type"] == "http":
            path = scope["path"]
            root = scope.get("root_path", "")
            if root and path.startswith(root):
                path = path[len(root) :]
            if path.startswith(_WEBHOOKS):
                token = path[len(_WEBHOOKS) :]
                if token.endswith("/"):  # the same URL: answered, not redirected
                    token = token[:-1]
                if token and "/" not in token:
                    if scope["method"] == "POST":
                        scope["app"] = self
                        await self._webhook(token, scope, receive, send)
                        return
                    # Starlette answers it 405; the instance's deliveries show it
                    self._answers.wrong_method(token, scope["method"])
        await super().__call__(scope, receive, send)

    async def _webhook(self, token: str, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def answer(result: Answer) -> None:
            nonlocal started
            started = True
            await _send(send, result)

        try:
            await self._deliver(token, scope, receive, answer)
        except Exception:
            if not started:  # as Starlette's error middleware answers
                headers = [
                    (b"content-length", str(len(_ERROR_BODY)).encode()),
                    (b"content-type", b"text/plain; charset=utf-8"),
                ]
                await send({"type": "http.response.start", "status": 500, "headers": headers})
                await send({"type": "http.response.body", "body": _ERROR_BODY})
            raise  # as Starlette's error middleware does: the server logs it too

    async def _deliver(self, token: str, scope: Scope, receive: Receive, answer: Any) -> None:
        answers = self._answers
        try:
            async with asyncio.timeout(answers.body_timeout):
                body = await _read_body(receive)
        except _BodyTooLarge:
            await answer(answers.too_large(token))
            return
        except TimeoutError:
            await answer(answers.too_slow())
            return
        if body is None:
            return  # the sender is gone: nothing recorded, nothing to answer
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        await answer(await answers.deliver(token, self._urls.of(scope), headers, body))


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or ``None`` when the sender disconnected first."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise _BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


async def _send(send: Send, answer: Answer) -> None:
    """``answer`` as ``JSONResponse`` renders it."""
    body = json.dumps(
        answer.content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")
    ).encode("utf-8")
    headers = [
        (b"content-length", str(len(body)).encode()),
        _JSON,
        *((k.encode("latin-1"), v.encode("latin-1")) for k, v in answer.headers),
    ]
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
