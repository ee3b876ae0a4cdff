"""``relay sandbox``: serve the Calendly sandbox over HTTP with uvicorn.

Every option is checked by click before anything starts, so a bad value is one line naming the
option (exit 2); an address it cannot listen on or an unusable state file is one line naming
it (exit 1).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import sys
from pathlib import Path
from typing import Any

import click

from .config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxConfig

#: More events than this take minutes to seed and serve no test or demo.
MAX_EVENTS = 100_000
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


class HostType(click.ParamType[str]):
    """An IP address or a DNS host name (what uvicorn can bind to)."""

    name = "host"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        """The host, or a click failure naming the option."""
        text = str(value)
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            pass
        labels = text.rstrip(".").split(".")
        if len(text) > 253 or not all(_LABEL.match(label) for label in labels):
            self.fail(f"{text!a} is not an IP address or host name", param, ctx)
        return text


class StatePath(click.Path):
    """A file path for the state (it may not exist yet); never a folder."""

    def __init__(self) -> None:
        super().__init__(dir_okay=False, path_type=Path)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The path, or a click failure naming the option."""
        text = str(value)
        if not text or "\x00" in text:
            self.fail(f"{text!a} is not a file path", param, ctx)
        try:
            text.encode(sys.getfilesystemencoding(), "surrogateescape")
        except UnicodeEncodeError:
            self.fail(f"{text!a} is not a file path", param, ctx)
        return super().convert(value, param, ctx)


def _can_listen(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on (in use, not an address of this machine, an
    unknown name), or ``None``: checked before anything is printed, so a failed bind is one
    line instead of a "sandbox on ..." banner followed by uvicorn's error."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as exc:
        return exc.strerror or type(exc).__name__
    return None


def _base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address needs brackets in a URL
    return f"http://{shown}:{port}"


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, type=HostType(), help="Interface.")
@click.option(
    "--port", default=8765, show_default=True, type=click.IntRange(1, 65535), help="Port."
)
@click.option(
    "--seed",
    default=0,
    show_default=True,
    type=click.IntRange(0, 2**63 - 1),
    help="Seed for the fake data.",
)
@click.option(
    "--events",
    default=200,
    show_default=True,
    type=click.IntRange(0, MAX_EVENTS),
    help="How many scheduled events to seed.",
)
@click.option(
    "--state",
    "state_file",
    type=StatePath(),
    default=None,
    help="Keep the sandbox's state (tokens, subscriptions, bookings...) in FILE across "
    "restarts; without it everything is lost at exit.",
)
def sandbox_command(host: str, port: int, seed: int, events: int, state_file: Path | None) -> None:
    """Run the Calendly sandbox (API v2, OAuth and webhooks) on HOST:PORT."""
    import uvicorn

    from .persistence import SandboxStateError
    from .sandbox import Sandbox

    base_url = _base_url(host, port)
    problem = _can_listen(host, port)
    if problem is not None:
        click.echo(f"error: cannot listen on {base_url}: {problem}", err=True)
        sys.exit(1)
    try:
        sb = Sandbox(
            SandboxConfig(seed=seed, events=events, base_url=base_url), state_file=state_file
        )
    except SandboxStateError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"Calendly sandbox on {base_url}  (seed {seed}, {events} events)")
    if state_file is None:
        click.echo(
            "warning: the sandbox's state is in memory only and is lost when it exits "
            "(tokens, subscriptions, bookings); keep it with --state FILE",
            err=True,
        )
    else:
        click.echo(f"  state file:     {state_file}")
    click.echo(f"  API base URL:   {base_url}")
    click.echo(f"  OAuth:          {base_url}/oauth/authorize  and  {base_url}/oauth/token")
    # The default client is public and sandbox-only, so printing its secret is safe; secrets of
    # clients registered later are returned only to whoever registers them.
    click.echo(f"  client id:      {DEFAULT_CLIENT_ID}  (secret: {DEFAULT_CLIENT_SECRET})")
    click.echo(f"  owner:          {sb.render.user_uri(sb.owner.uuid)}")
    click.echo(
        "  personal access token:  curl -X POST "
        f'{base_url}/_sandbox/tokens -d \'{{"kind": "pat"}}\''
    )
    click.echo(f"  control API:    {base_url}/_sandbox/  (an index of every control endpoint)")
    # Access logs would print OAuth codes and tokens carried in query strings: keep them off.
    try:
        uvicorn.run(sb.app, host=host, port=port, access_log=False, log_level="info")
    finally:
        sb.close()
