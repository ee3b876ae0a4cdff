"""What ``relay serve`` does before serving: take its port first, then say what is off.

The listening socket is bound before the store is opened, so a second server on a busy port
fails with one line before it resumes or claims any work (uvicorn binding its own socket would
fail only after the lifespan had started the executor).
"""

from __future__ import annotations

import errno
import socket
from typing import TYPE_CHECKING

from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from runtime.service import Service

#: Pending connections the kernel queues for accept (uvicorn's default).
BACKLOG = 2048


def bind_socket(host: str, port: int) -> socket.socket:
    """A socket listening on ``host``:``port`` (handed to uvicorn), or one line saying why not."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise ConfigurationError(f"--host {host!r}: cannot listen there ({exc})") from None
    family, kind, proto, _name, address = found[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ConfigurationError(
                f"port {port} is in use on {host} (--port): is another server running there?"
            ) from None
        raise ConfigurationError(
            f"cannot listen on {host}:{port} (--host/--port): {exc.strerror or exc}"
        ) from None
    sock.set_inheritable(True)
    return sock


async def moved_webhook_urls(relay: Service) -> list[str]:
    """One warning per instance whose webhook URL, as registered at deploy, is not where this
    server receives it now (its sender still posts to the old address)."""
    registered = await relay.store.registered_webhook_urls()
    lines = []
    for instance in await relay.store.list_instances():
        old = registered.get(instance.name)
        new = relay.webhook_url(instance)
        if old is not None and old != new:
            lines.append(
                f"warning: instance {instance.name} was registered with {old} but this server "
                f"receives it at {new}: re-register it with `relay instances sync "
                f"{instance.name}`"
            )
    return lines
