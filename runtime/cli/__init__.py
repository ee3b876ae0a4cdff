"""The ``relay`` command: thin click commands over ``Runtime``, rendered with rich.

Every relay error becomes one clear message and a non-zero exit; tracebacks never reach users.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import traceback
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
import structlog
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from runtime.api import Runtime
from runtime.cli.values import strict_json
from runtime.errors import ConfigurationError, FlowError, InputValidationError, RelayError
from runtime.expression_budget import Budget
from runtime.flows.yamlsource import parse_yaml
from runtime.inputs import input_schema
from runtime.logs import SECRETS, configure_from_env, settings_from_env
from runtime.plain_webhooks import evaluate_secret
from runtime.plugins import make_plugin_manager
from runtime.results import execution_document

F = TypeVar("F", bound=Callable[..., Any])
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
_LOG = structlog.get_logger("relay.cli")


def handle_errors(function: F) -> F:
    """Turn relay errors (and anything unexpected) into a message and exit status."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except FlowError as exc:
            for problem in exc.problems:
                err.print(str(problem), markup=False)
            err.print(f"{len(exc.problems)} problem(s)", markup=False)
            sys.exit(1)
        except RelayError as exc:
            err.print(f"error: {exc}", markup=False)
            sys.exit(1)
        except (OSError, ValueError) as exc:
            err.print(f"error: {exc}", markup=False)
            sys.exit(1)
        except KeyboardInterrupt:
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: usage errors, ``ctx.exit()``, Ctrl-C at a prompt
        except Exception as exc:  # a defect: one line for the user, the traceback at debug
            _LOG.debug("unexpected error", exception="".join(traceback.format_exception(exc)))
            err.print(
                f"error: unexpected {type(exc).__name__}: {SECRETS.text(str(exc))} "
                "(RELAY_LOG_LEVEL=debug logs the traceback)",
                markup=False,
            )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def new_runtime() -> Runtime:
    """The runtime a command works with (components from the installed plugins)."""
    return Runtime()


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to its end on a new event loop."""
    return asyncio.run(coro)


def read_data_file(path: str | None, what: str, *, mapping: bool = True) -> Any:
    """A YAML or JSON file (config, payload): problems name file, line and column. A config
    file (``mapping``) must hold a mapping at its top level (or nothing)."""
    if path is None:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigurationError(f"{path}: cannot read the {what} file: {reason}") from None
    doc = parse_yaml(text, path)
    if doc.problems:
        raise FlowError(f"{path}: invalid {what} file", doc.problems)
    if mapping and doc.data is not None and not isinstance(doc.data, dict):
        raise ConfigurationError(
            f"{path}: the {what} file must be a mapping of KEY: value at its top level, "
            f"not {_kind_of(doc.data)}"
        )
    return doc.data


@contextlib.contextmanager
def values_from(path: str | None) -> Iterator[None]:
    """Config or field values that fail their checks name the file they came from."""
    try:
        yield
    except InputValidationError as exc:
        if path is None or exc.summary.startswith(f"{path}:"):
            raise
        raise InputValidationError(f"{path}: {exc.summary}", exc.problems) from None


def _kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"


def emit_json(data: Any) -> None:
    """``data`` as strict JSON on stdout (see ``strict_json``)."""
    click.echo(strict_json(data))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="relay-runtime", prog_name="relay")
def cli() -> None:
    """relay: run integration flows written in YAML against pluggable components."""


@cli.command("components")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def components_command(as_json: bool) -> None:
    """List installed components and what they declare."""
    runtime = Runtime()
    listing = [_component_summary(r) for r in runtime.registry]
    if as_json:
        emit_json(listing)
        return
    for item in listing:
        out.print(
            f"[bold]{escape(item['key'])}[/bold]  {escape(item['label'])}"
            f"  (plugin {escape(str(item['plugin']))})"
        )
        for kind in ("connections", "triggers", "data_sources", "actions"):
            keys = ", ".join(x["key"] for x in item[kind]) or "-"
            out.print(f"  {kind.replace('_', ' ')} ({len(item[kind])}): {keys}")


def _component_summary(registered: Any) -> dict[str, Any]:
    c = registered.component

    def brief(items: Any) -> list[dict[str, str]]:
        return [{"key": i.key, "label": i.label} for i in items]

    return {
        "key": c.key,
        "label": c.label,
        "description": c.description,
        "version": c.version,
        "plugin": registered.plugin,
        "connections": brief(c.connections),
        "triggers": brief(c.triggers),
        "data_sources": brief(c.data_sources),
        "actions": brief(c.actions),
    }


def _input_rows(inputs: Any) -> list[dict[str, Any]]:
    rows = []
    for spec in inputs:
        rows.append(
            {
                "key": spec.key,
                "label": spec.label,
                "type": spec.type,
                "collection": spec.collection,
                "required": spec.required,
                "default": spec.default if spec.has_default else None,
                "example": spec.example,
                "data_source": spec.data_source,
                "comments": spec.comments,
                "choices": [{"value": c.value, "label": c.label} for c in spec.choices],
                "schema": input_schema(spec),
            }
        )
    return rows


@cli.command("describe")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def describe_command(ref: str, as_json: bool) -> None:
    """Describe COMPONENT or COMPONENT.KEY (an action, trigger, data source or connection)."""
    runtime = Runtime()
    component_key, _, key = ref.partition(".")
    registered = runtime.registry.require(component_key)
    if not key:
        summary = _component_summary(registered)
        if as_json:
            emit_json(summary)
        else:
            out.print(f"[bold]{escape(summary['key'])}[/bold]: {escape(summary['description'])}")
            for kind in ("connections", "triggers", "data_sources", "actions"):
                for item in summary[kind]:
                    noun = kind[:-1].replace("_", " ")
                    line = f"  {noun}: {component_key}.{item['key']}  {item['label']}"
                    out.print(line, markup=False)
        return
    c = registered.component
    found: list[tuple[str, Any]] = [
        (kind, item)
        for kind, item in (
            ("action", c.action(key)),
            ("trigger", c.trigger(key)),
            ("data_source", c.data_source(key)),
            ("connection", c.connection(key)),
        )
        if item is not None
    ]
    if not found:
        raise RelayError(f"component {component_key!r} has nothing with key {key!r}")
    kind, item = found[0]
    data = {
        "ref": ref,
        "kind": kind,
        "key": item.key,
        "label": item.label,
        "description": getattr(item, "description", ""),
        "inputs": _input_rows(item.inputs),
        "schema": registered.schema(kind, key).schema,
    }
    if kind == "action" and item.output_schema is not None:
        data["output_schema"] = item.output_schema
    if as_json:
        emit_json(data)
        return
    out.print(f"[bold]{escape(ref)}[/bold] ({kind}): {escape(item.label)}")
    if data["description"]:
        out.print(data["description"], markup=False)
    for line in describe_inputs(data["inputs"]):
        out.print(line, markup=False)


def describe_inputs(rows: list[dict[str, Any]]) -> list[str]:
    """Each input as a few whole lines (never cut to the terminal's width): its key, type and
    label; its description; its default, example, choices and data source."""
    lines = []
    for row in rows:
        kind_text = row["type"] + (f" {row['collection']}" if row["collection"] else "")
        required = ", required" if row["required"] else ""
        lines.append(f"  {row['key']} ({kind_text}{required}): {row['label']}")
        if row["comments"]:
            lines.append(f"      {row['comments']}")
        details = []
        if row["default"] is not None:
            details.append(f"default {json.dumps(row['default'])}")
        if row["example"] is not None:
            details.append(f"example {row['example']}")
        if row["choices"]:
            details.append("choices " + ", ".join(c["value"] for c in row["choices"]))
        if row["data_source"]:
            details.append(f"data source {row['data_source']}")
        if details:
            lines.append("      " + "; ".join(details))
    return lines


@cli.command("validate")
@click.argument("flows", nargs=-1, required=True, type=click.Path())
@handle_errors
def validate_command(flows: tuple[str, ...]) -> None:
    """Check FLOW files without running them; every problem as FILE:LINE:COL: message.

    A directory stands for every *.yaml / *.yml file directly in it (not its subfolders, so
    ``flows/`` leaves the configs and payloads in ``flows/samples/`` out).
    """
    runtime = Runtime()
    failed = 0
    for path in _flow_files(flows):
        try:
            flow = runtime.load_flow(path)
        except FlowError as exc:
            failed += 1
            for problem in exc.problems:
                err.print(str(problem), markup=False)
            continue
        out.print(f"{path}: ok ({flow.name!r}, {len(flow.walk())} steps)", markup=False)
    if failed:
        sys.exit(1)


def _flow_files(given: tuple[str, ...]) -> list[str]:
    files: list[str] = []
    for path in given:
        folder = Path(path)
        if not folder.is_dir():
            files.append(path)
            continue
        found = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())
        if not found:
            raise ConfigurationError(f"{path}: no *.yaml or *.yml flow in this directory")
        files.extend(str(p) for p in found)
    return files


@cli.command("run")
@click.argument("flow_path", metavar="FLOW", type=click.Path(dir_okay=False))
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Config values (YAML/JSON)."
)
@click.option(
    "--payload",
    "payload_path",
    type=click.Path(dir_okay=False),
    help="Trigger payload (YAML/JSON).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the execution result as JSON.")
@handle_errors
def run_command(
    flow_path: str, config_path: str | None, payload_path: str | None, as_json: bool
) -> None:
    """Run FLOW once, here and now, and show what each step did.

    A config that names a stored connection (``calendly: {use: NAME}``) uses the store, as
    ``relay deploy`` does. ``--json`` prints the same document as ``relay execution --json``.
    """
    runtime = Runtime()
    flow = runtime.load_flow(flow_path)
    config = read_data_file(config_path, "config") or {}
    payload = read_data_file(payload_path, "payload", mapping=False)
    evaluate_secret(flow, config)  # a plain webhook's secret: evaluated as deploy would

    async def main() -> Any:
        try:
            async with contextlib.AsyncExitStack() as stack:
                if uses_stored_connection(config):
                    await stack.enter_async_context(store_for(runtime))
                return await runtime.run(flow, config=config, payload=payload)
        finally:
            await runtime.aclose()

    with values_from(config_path):
        result = run_async(main())
    data = execution_document(result.as_dict(), payload=payload)
    if as_json:
        emit_json(data)
    else:
        render_result(data)
    if not result.ok:
        sys.exit(1)


def uses_stored_connection(values: Any) -> bool:
    """Whether a config names a stored connection (``{use: NAME}``) anywhere at its top level."""
    return isinstance(values, dict) and any(
        isinstance(v, dict) and "use" in v for v in values.values()
    )


@contextlib.asynccontextmanager
async def store_for(runtime: Runtime) -> AsyncIterator[Any]:
    """The configured store, as the source of ``runtime``'s named connections and tokens."""
    from runtime.store import open_store

    store = await open_store(os.environ.get("RELAY_DATABASE_URL"))
    try:
        runtime.connection_source = store
        runtime.token_store = store.tokens
        yield store
    finally:
        await store.close()


def render_result(data: dict[str, Any]) -> None:
    table = Table(
        "step", "action", "status", "attempts", "ms", title=f"{data['flow']}: {data['status']}"
    )
    for column in table.columns:
        column.overflow = "fold"
    for step in data["steps"]:
        style = {"completed": "green", "failed": "red", "skipped": "dim", "reused": "cyan"}[
            step["status"]
        ]
        table.add_row(
            escape(step["path"]),
            step["action"] or step["kind"],
            f"[{style}]{step['status']}[/{style}]",
            str(step["attempts"] or ""),
            f"{step['duration_ms']:.1f}",
        )
    out.print(table)
    if data["error"]:
        err.print(
            f"error in step {data['error'].get('step')}: {data['error']['message']}", markup=False
        )


def _load_commands() -> None:
    # the service commands live in their own module; importing it registers them
    from runtime.cli import (  # noqa: F401
        connection_commands,
        history,
        keys,
        ops,
        worker,
    )


def main() -> None:
    """Console-script entry point: add plugin commands, then run."""
    try:
        settings_from_env()  # a mistyped RELAY_LOG_LEVEL is an error, not a silent default
        Budget.from_env()  # and RELAY_EXPRESSION_BUDGET / RELAY_EXPRESSION_TIME_LIMIT
        configure_from_env()
        pm = make_plugin_manager()
        _load_commands()
        pm.hook.register_commands(cli=cli)
    except RelayError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)
    sys.exit(run_cli(sys.argv[1:]))


def run_cli(args: list[str]) -> int:
    """Run the ``relay`` command line; a usage error is one line naming the option."""
    try:
        code = cli.main(args, prog_name="relay", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        return 130
    except click.exceptions.NoArgsIsHelpError as exc:  # bare ``relay``: the help, as asked
        err.print(exc.format_message(), markup=False)
        return exc.exit_code
    except click.ClickException as exc:
        err.print(f"error: {exc.format_message()}", markup=False)
        return exc.exit_code
    return code if isinstance(code, int) else 0


# commands kept in their own modules but part of the core CLI (importing registers them)
from runtime.cli import picklist as _picklist_module  # noqa: E402, F401
