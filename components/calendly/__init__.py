"""The Calendly component for relay: a plugin registered through ``relay.components``."""

from __future__ import annotations

from typing import Any, TYPE_CHECKING


from components.calendly.component import build_component
from components.calendly.connection import SANDBOX_URL
from runtime import hookimpl

if TYPE_CHECKING:
    import click
    from collections.abc import Mapping


@hookimpl
def register_components(register: Any) -> None:
    """Register the Calendly component."""
    register(build_component())


@hookimpl
def in_process_hosts() -> Mapping[str, Any]:
    """A fresh in-process sandbox per runtime, answering for the default sandbox URL."""
    return {SANDBOX_URL.split("://", 1)[1]: _LazySandbox()}


class _LazySandbox:
    """Seeds the sandbox on its first request, so runtimes that never call it pay nothing."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from components.calendly.sandbox import Sandbox, SandboxConfig

            self._app = Sandbox(SandboxConfig(base_url=SANDBOX_URL)).app
        await self._app(scope, receive, send)


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``relay sandbox`` and ``relay demo``."""
    from components.calendly.demo import demo_command
    from components.calendly.sandbox.cli import sandbox_command

    cli.add_command(sandbox_command, "sandbox")
    cli.add_command(demo_command, "demo")
