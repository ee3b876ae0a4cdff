"""The ``relay`` command line's entry points: ``main`` (the console script) and ``run_cli``.

The group and its command table are in ``runtime.cli.group``; each command's module is imported
only when that command runs. Every relay error becomes one clear message and a non-zero exit;
tracebacks never reach users.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from runtime.cli.group import cli
from runtime.cli.state import CliState, installed_runtime
from runtime.errors import RelayError

if TYPE_CHECKING:
    from collections.abc import Callable

    from runtime.api import Runtime

__all__ = ["CliState", "add_plugin_commands", "cli", "main", "run_cli"]


def _fail(message: str) -> None:
    click.echo(message, err=True)


def main() -> None:
    """Console-script entry point: check the environment's settings, then run (plugins'
    commands are added when a listing or a plugin's command needs them)."""
    from runtime.expression_budget import Budget
    from runtime.logs import configure_from_env, settings_from_env

    try:
        settings_from_env()  # a mistyped RELAY_LOG_LEVEL is an error, not a silent default
        Budget.from_env()  # and RELAY_EXPRESSION_BUDGET / RELAY_EXPRESSION_TIME_LIMIT
    except RelayError as exc:
        _fail(f"error: {exc}")
        sys.exit(1)
    cli.plugin_commands = add_plugin_commands
    # the CLI configures logging (importing runtime does not), when a command first needs it
    sys.exit(run_cli(sys.argv[1:], configure_logs=configure_from_env))


def add_plugin_commands(group: click.Group) -> None:
    """Add the installed plugins' commands (``register_commands``) to ``group``."""
    from runtime.cli.state import report_broken
    from runtime.plugins import make_plugin_manager, register_commands

    pm = make_plugin_manager()
    register_commands(pm, group)
    report_broken(pm.broken)


def run_cli(
    args: list[str],
    runtime_factory: Callable[[], Runtime] | None = None,
    *,
    configure_logs: Callable[[], None] | None = None,
) -> int:
    """Run the ``relay`` command line; a usage error is one line naming the option.

    ``runtime_factory`` builds the runtime of the command that runs (default: the installed
    plugins' runtime); ``configure_logs``, when given, configures logging before a command that
    logs runs (not the ones that only read flows and declarations).
    """
    state = CliState(
        runtime_factory=runtime_factory or installed_runtime, configure_logs=configure_logs
    )
    try:
        code = cli.main(args, prog_name="relay", standalone_mode=False, obj=state)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        return 130
    except click.exceptions.NoArgsIsHelpError as exc:  # bare ``relay``: the help, as asked
        _fail(exc.format_message())
        return exc.exit_code
    except click.ClickException as exc:
        _fail(f"error: {exc.format_message()}")
        return exc.exit_code
    except RelayError as exc:  # a plugin that fails to load while the commands are listed
        _fail(f"error: {exc}")
        return 1
    return code if isinstance(code, int) else 0
