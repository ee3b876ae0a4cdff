"""What the ``relay`` commands share through the click context: the factory of their runtime.

Tests and embedders inject a factory (``CliRunner().invoke(cli, args, obj=CliState(...))`` or
``run_cli(args, runtime_factory=...)``); without one, commands build the installed plugins'
runtime.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from runtime.api import Runtime
    from runtime.plugins import BrokenPlugin
    from runtime.registry import Registry


def installed_runtime() -> Runtime:
    """A runtime with the components of the installed plugins."""
    from runtime.api import Runtime

    return Runtime()


@dataclass
class CliState:
    """The ``obj`` of the ``relay`` group's click context."""

    #: Builds the runtime each command works with (one call per command).
    runtime_factory: Callable[[], Runtime] = field(default=installed_runtime)
    #: The runtimes built so far: an unexpected error's message is scrubbed of their secrets.
    built: list[Runtime] = field(default_factory=list)
    #: Configures the process's logging: called before a command that logs runs, or before an
    #: unexpected error is logged (commands that only read flows never pay for structlog).
    configure_logs: Callable[[], None] | None = None
    #: The installed plugins left out that this command has reported (each once, however
    #: many runtimes or registries it builds).
    reported: set[str] = field(default_factory=set)

    def logging_ready(self) -> None:
        """Configure logging now if it is still to be done (once)."""
        configure, self.configure_logs = self.configure_logs, None
        if configure is not None:
            configure()

    def scrub(self, text: str) -> str:
        """``text`` without a secret any runtime built here has seen."""
        for runtime in self.built:
            text = runtime.redactor.text(text)
        return text


def current_state() -> CliState:
    """The running command's state (a fresh one outside a ``relay`` context)."""
    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(CliState) if ctx is not None else None
    return state if state is not None else CliState()


def report_broken(broken: Iterable[BrokenPlugin]) -> None:
    """Tell the user on stderr, once per command, about each installed plugin left out."""
    reported = current_state().reported
    for plugin in broken:
        if plugin.name not in reported:
            reported.add(plugin.name)
            click.echo(f"warning: {plugin}", err=True)


def new_runtime() -> Runtime:
    """The runtime for the running command, from its context's factory (the installed plugins'
    runtime outside a ``relay`` context)."""
    state = current_state()
    runtime = state.runtime_factory()
    state.built.append(runtime)
    report_broken(runtime.registry.broken.values())
    return runtime


def new_registry() -> Registry:
    """The components a command that only reads flows works with: the runtime factory's when
    one is given (tests), else the installed plugins' without building a runtime (no engine,
    HTTP pool or logging it would not use: ``relay validate`` starts faster)."""
    state = current_state()
    if state.runtime_factory is not installed_runtime:
        return new_runtime().registry
    from runtime.plugins import load_components, make_plugin_manager

    registry = load_components(make_plugin_manager())
    report_broken(registry.broken.values())
    return registry
