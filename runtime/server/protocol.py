"""uvicorn's h11 protocol with a deadline for the request head.

uvicorn times out a keep-alive connection only while it is idle between requests: a client that
connects and sends nothing, or half a request line and headers, holds its connection (and a
slot of the server's) for ever. Here a timer runs from the moment a connection waits for a
request head (connected, or the previous response sent and some bytes of the next arrived)
until the head is complete; when it fires, the client gets 408 and the connection is closed.
The body has its own deadline in the webhook endpoint (``runtime.server.webhooks``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

if TYPE_CHECKING:
    import asyncio

#: Seconds a client has to send a complete request head.
HEAD_TIMEOUT = 10.0

_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 28\r\nconnection: close\r\n\r\nthe request head timed out\r\n"
)


class HeadTimeoutProtocol(H11Protocol):
    """``H11Protocol`` that closes a connection whose request head does not arrive in time."""

    head_timeout = HEAD_TIMEOUT

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the head timer as the connection opens."""
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        """Feed the bytes to h11; the timer runs while a request head is incomplete."""
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            self._arm()  # part of a head: the clock runs from its first bytes
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        """Stop the head timer with the connection."""
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is None and not self.transport.is_closing():
            self._head_timer = self.loop.call_later(self.head_timeout, self._timed_out)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _timed_out(self) -> None:
        self._head_timer = None
        if self.conn.their_state is not h11.IDLE or self.transport.is_closing():
            return  # the head arrived meanwhile
        if self.conn.our_state is h11.IDLE:
            self.transport.write(_TIMED_OUT)
        self.transport.close()


def head_timeout_protocol(seconds: float) -> type[HeadTimeoutProtocol]:
    """The protocol class to pass as uvicorn's ``http=``, with a head deadline of ``seconds``."""
    return type("HeadTimeoutProtocol", (HeadTimeoutProtocol,), {"head_timeout": seconds})
