"""The ``relay`` click group: its command table, each command's module imported only when the
command runs or its help is shown (``relay --help`` imports click and this module, no more)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from runtime.cli.state import CliState

if TYPE_CHECKING:
    from collections.abc import Callable


@dataclass(frozen=True)
class LazyCommand:
    """Where a command is defined (``module``, ``attribute``) and its summary: the first
    paragraph of its help, which ``relay --help`` shortens as click shortens a command's."""

    module: str
    attribute: str
    summary: str
    #: Whether the command may log: logging is configured before it runs (structlog costs
    #: ~0.1 s to import, which the commands that only read flows and declarations skip).
    logs: bool = True


#: The core commands. ``tests/runtime/test_cli_group.py`` checks each summary against the
#: command's own help.
COMMANDS: dict[str, LazyCommand] = {
    "components": LazyCommand(
        "runtime.cli.describe",
        "components_command",
        "List installed components and what they declare.",
        logs=False,
    ),
    "describe": LazyCommand(
        "runtime.cli.describe",
        "describe_command",
        "Describe COMPONENT or COMPONENT.KEY (an action, trigger, data source or connection).",
        logs=False,
    ),
    "validate": LazyCommand(
        "runtime.cli.flow_commands",
        "validate_command",
        "Check FLOW files without running them; every problem as FILE:LINE:COL: message.",
        logs=False,
    ),
    "new": LazyCommand(
        "runtime.cli.scaffold",
        "new_group",
        "Start a component's plugin package or a flow from a template.",
        logs=False,
    ),
    "schema": LazyCommand(
        "runtime.cli.schema_command",
        "schema_command",
        "Print a JSON Schema for flow files made from the installed components (for editors).",
        logs=False,
    ),
    "run": LazyCommand(
        "runtime.cli.flow_commands",
        "run_command",
        "Run FLOW once, here and now, and show what each step did.",
    ),
    "test": LazyCommand(
        "runtime.cli.test_command",
        "test_command",
        "Run the flow tests under PATHS (default flows/), each case in a fresh sandbox.",
    ),
    "picklist": LazyCommand(
        "runtime.cli.picklist",
        "picklist_command",
        "Run the data source COMPONENT.KEY and list its {key, label} items.",
    ),
    "deploy": LazyCommand(
        "runtime.cli.ops",
        "deploy_command",
        "Deploy FLOW as an instance with its own config; prints its webhook URL (if any).",
    ),
    "undeploy": LazyCommand(
        "runtime.cli.ops",
        "undeploy_command",
        "Remove the instance NAME, running its trigger's undeploy step first.",
    ),
    "redeploy": LazyCommand(
        "runtime.cli.lifecycle",
        "redeploy_command",
        "Install FLOW as the next flow version of instance NAME, in place (same webhook URL).",
    ),
    "pause": LazyCommand(
        "runtime.cli.lifecycle",
        "pause_command",
        "Pause instance NAME: deliveries are recorded and held, schedules and polls stop.",
    ),
    "resume": LazyCommand(
        "runtime.cli.lifecycle",
        "resume_command",
        "Resume instance NAME; the deliveries it held run, in the order received.",
    ),
    "instances": LazyCommand(
        "runtime.cli.ops",
        "instances_command",
        "List deployed instances (whole webhook URLs; none for flows nothing posts to).",
    ),
    "serve": LazyCommand(
        "runtime.cli.ops",
        "serve_command",
        "Serve webhooks; run executions in this process or hand them to workers.",
    ),
    "connect": LazyCommand(
        "runtime.cli.ops",
        "connect_command",
        "Authorize a connection (OAuth 2.0 code flow with state and PKCE) and store it.",
    ),
    "connections": LazyCommand(
        "runtime.cli.connection_commands",
        "connections_group",
        "Stored connections (alone: ``list``): name, component, connection key, kind, status "
        "(connected, expiring, reconnect_needed), token expiry, last refresh, when saved, and the "
        "instances that use them (never a field or token).",
    ),
    "executions": LazyCommand(
        "runtime.cli.history",
        "executions_command",
        "List recent executions, newest first (whole ids).",
    ),
    "deliveries": LazyCommand(
        "runtime.cli.deliveries",
        "deliveries_command",
        "List what instance NAME was sent, newest first: accepted, duplicate, rejected.",
    ),
    "execution": LazyCommand(
        "runtime.cli.history",
        "execution_command",
        "Show one execution (ID or a unique prefix): its step timeline with inputs and outputs.",
    ),
    "cancel": LazyCommand(
        "runtime.cli.history",
        "cancel_command",
        "Cancel an execution (ID or a unique prefix): waiting or pending ones at once.",
    ),
    "replay": LazyCommand(
        "runtime.cli.history",
        "replay_command",
        "Run a recorded execution (ID or a unique prefix) again with the same trigger payload.",
    ),
    "prune": LazyCommand(
        "runtime.cli.retention",
        "prune_command",
        "Delete finished executions older than the retention policy (or beyond its count).",
    ),
    "keys": LazyCommand(
        "runtime.cli.keys",
        "keys_group",
        "The keys that encrypt stored secrets: list them, rotate them.",
    ),
    "tokens": LazyCommand(
        "runtime.cli.tokens",
        "tokens_group",
        "Management API tokens: create (shown once), list, revoke.",
    ),
    "worker": LazyCommand(
        "runtime.cli.worker",
        "worker_command",
        "Run executions from the queue (store: RELAY_DATABASE_URL, Redis: RELAY_REDIS_URL).",
    ),
}


class LazyGroup(click.Group):
    """A group that lists the commands of ``lazy`` beside its own and imports one's module only
    when it is asked for (to run it, or to show its help).

    ``plugin_commands``, when set, adds the plugins' commands to the group: it is called once,
    the first time every command must be known (a listing, or a name no core command has), so
    running a core command loads no plugin's commands.
    """

    def __init__(self, *args: Any, lazy: dict[str, LazyCommand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = lazy
        self.plugin_commands: Callable[[click.Group], None] | None = None

    def add_lazy_command(self, name: str, module: str, attribute: str, summary: str) -> None:
        """Add the command ``module.attribute`` as ``name`` without importing it: ``relay
        --help`` shows ``summary`` (the first paragraph of the command's help) until it loads.
        How a plugin's ``register_commands`` keeps ``relay --help`` from importing its code."""
        self.lazy = {**self.lazy, name: LazyCommand(module, attribute, summary)}

    def _add_plugin_commands(self) -> None:
        add, self.plugin_commands = self.plugin_commands, None
        if add is not None:
            add(self)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command's name (the core ones loaded or not, the plugins'), sorted."""
        self._add_plugin_commands()
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """The command ``cmd_name``, importing its module on first use."""
        found = self.commands.get(cmd_name)
        if found is not None:
            return found
        entry = self.lazy.get(cmd_name)
        if entry is None:
            self._add_plugin_commands()  # a plugin's command: added loaded, or lazily
            entry = self.lazy.get(cmd_name)
            if entry is None:
                return self.commands.get(cmd_name)
        command = getattr(importlib.import_module(entry.module), entry.attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{entry.module}.{entry.attribute} is not a click command")
        self.add_command(command, cmd_name)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list with each one's short help, without importing the unloaded ones."""
        names = [
            n
            for n in self.list_commands(ctx)
            if n not in self.commands or not self.commands[n].hidden
        ]
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            loaded = self.commands.get(name)
            if loaded is not None:
                rows.append((name, loaded.get_short_help_str(limit)))
            else:
                stand_in = click.Command(
                    name, help=self.lazy[name].summary
                )  # shortened as click does
                rows.append((name, stand_in.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def make_group() -> LazyGroup:
    """A new ``relay`` group over ``COMMANDS`` (``cli`` is the one the entry point runs)."""

    @click.group(
        cls=LazyGroup,
        lazy=COMMANDS,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    @click.version_option(package_name="relay-runtime", prog_name="relay")
    @click.pass_context
    def cli(ctx: click.Context) -> None:
        """relay: run integration flows written in YAML against pluggable components."""
        state = ctx.ensure_object(CliState)
        assert isinstance(ctx.command, LazyGroup)
        entry = ctx.command.lazy.get(ctx.invoked_subcommand or "")
        if entry is None or entry.logs:  # plugins' commands may log
            state.logging_ready()

    assert isinstance(cli, LazyGroup)
    return cli


cli = make_group()
