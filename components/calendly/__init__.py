"""The Calendly component for relay: a plugin registered through ``relay.components``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime import hookimpl

if TYPE_CHECKING:
    from collections.abc import Mapping

    import click


@hookimpl
def register_components(register: Any) -> None:
    """Register the Calendly component."""
    from components.calendly.component import build_component  # its actions load with it

    register(build_component())


@hookimpl
def in_process_hosts() -> Mapping[str, Any]:
    """A fresh in-process sandbox per runtime, answering for the default sandbox URL."""
    from components.calendly.connection import SANDBOX_URL

    return {SANDBOX_URL.split("://", 1)[1]: _LazySandbox()}


class _LazySandbox:
    """Seeds the sandbox on its first request, so runtimes that never call it pay nothing."""

    def __init__(self) -> None:
        self._app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if self._app is None:
            from components.calendly.connection import SANDBOX_URL
            from components.calendly.sandbox import Sandbox, SandboxConfig

            self._app = Sandbox(SandboxConfig(base_url=SANDBOX_URL)).app
        await self._app(scope, receive, send)


#: ``relay sandbox`` and ``relay demo``: (module, attribute, the first paragraph of their help)
_COMMANDS = {
    "sandbox": (
        "components.calendly.sandbox.cli",
        "sandbox_command",
        "Run the Calendly sandbox (API v2, OAuth and webhooks) on HOST:PORT.",
    ),
    "demo": (
        "components.calendly.demo",
        "demo_command",
        "Run relay end to end against the Calendly sandbox, on the embedded defaults.",
    ),
}


@hookimpl
def register_commands(cli: click.Group) -> None:
    """Add ``relay sandbox`` and ``relay demo``; imported only when one runs (relay's group
    takes them lazily; any other click group gets them loaded)."""
    add_lazy = getattr(cli, "add_lazy_command", None)
    for name, (module, attribute, summary) in _COMMANDS.items():
        if add_lazy is not None:
            add_lazy(name, module, attribute, summary)
        else:
            import importlib

            cli.add_command(getattr(importlib.import_module(module), attribute), name)


@hookimpl
def flow_test_sandboxes() -> Mapping[str, Any]:
    """A fresh sandbox per flow test case, driven by scenario actions (``relay test``)."""
    from components.calendly.sandbox.testing import TestSandbox

    return {"calendly": TestSandbox}
