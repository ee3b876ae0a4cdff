"""The ``relay`` command: thin click commands over ``Runtime``, rendered with rich.

Every relay error becomes one clear message and a non-zero exit; tracebacks never reach users.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Callable, Coroutine
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from runtime.api import Runtime
from runtime.errors import ConfigurationError, FlowError, RelayError
from runtime.expression_budget import Budget
from runtime.flows.yamlsource import parse_yaml
from runtime.inputs import input_schema
from runtime.logs import settings_from_env
from runtime.plain_webhooks import evaluate_secret
from runtime.plugins import make_plugin_manager

F = TypeVar("F", bound=Callable[..., Any])
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


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

    return wrapper  # type: ignore[return-value]


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def read_data_file(path: str | None, what: str) -> Any:
    """A YAML or JSON file (config, payload): problems name file, line and column."""
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
    return doc.data


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str, sort_keys=False))


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
        out.print(f"[bold]{item['key']}[/bold]  {item['label']}  (plugin {item['plugin']})")
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
            out.print(f"[bold]{summary['key']}[/bold]: {summary['description']}")
            for kind in ("connections", "triggers", "data_sources", "actions"):
                for item in summary[kind]:
                    noun = kind[:-1].replace("_", " ")
                    out.print(f"  {noun}: {component_key}.{item['key']}  {item['label']}")
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
    out.print(f"[bold]{ref}[/bold] ({kind}): {item.label}")
    if data["description"]:
        out.print(data["description"], markup=False)
    table = Table("key", "label", "type", "required", "default", "example")
    for row in data["inputs"]:
        kind_text = row["type"] + (f" ({row['collection']})" if row["collection"] else "")
        table.add_row(
            row["key"],
            row["label"],
            kind_text,
            "yes" if row["required"] else "",
            "" if row["default"] is None else json.dumps(row["default"]),
            "" if row["example"] is None else str(row["example"]),
        )
    out.print(table)


@cli.command("validate")
@click.argument("flows", nargs=-1, required=True, type=click.Path(dir_okay=False))
@handle_errors
def validate_command(flows: tuple[str, ...]) -> None:
    """Check FLOW files without running them; every problem as FILE:LINE:COL: message."""
    runtime = Runtime()
    failed = 0
    for path in flows:
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
    """Run FLOW once, here and now, and show what each step did."""
    runtime = Runtime()
    flow = runtime.load_flow(flow_path)
    config = read_data_file(config_path, "config") or {}
    payload = read_data_file(payload_path, "payload")
    if isinstance(config, dict):  # a plain webhook's secret: evaluated as deploy would
        evaluate_secret(flow, config)
    result = runtime.run_sync(flow, config=config, payload=payload)
    data = result.as_dict()
    if as_json:
        emit_json(data)
    else:
        render_result(data)
    if not result.ok:
        sys.exit(1)


@cli.command("picklist")
@click.argument("ref")
@click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="Input values (YAML/JSON)."
)
@click.option("--input", "pairs", multiple=True, metavar="KEY=VALUE", help="An input value.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def picklist_command(
    ref: str, config_path: str | None, pairs: tuple[str, ...], as_json: bool
) -> None:
    """Run the data source COMPONENT.KEY and list its {key, label} items.

    Connection inputs take a mapping of connection fields in the config file (``connection:``
    inside it picks the connection by key; the component's first is the default).
    """
    values: dict[str, Any] = dict(read_data_file(config_path, "config") or {})
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--input")
        values[key] = raw
    items = run_async(_picklist(ref, values))
    if as_json:
        emit_json(items)
        return
    table = Table("key", "label")
    for item in items:
        table.add_row(str(item.get("key")), str(item.get("label")))
    out.print(table)


async def _picklist(ref: str, values: dict[str, Any]) -> list[dict[str, Any]]:
    runtime = Runtime()
    try:
        component, _, _key = ref.partition(".")
        registered = runtime.registry.require(component)
        source = registered.component.data_source(_key)
        if source is None:
            raise RelayError(f"component {component!r} has no data source {_key!r}")
        for spec in source.inputs:
            raw = values.get(spec.key)
            if spec.type == "connection" and isinstance(raw, dict):
                fields = dict(raw)
                default = registered.component.connections[0].key
                chosen = str(fields.pop("connection", default))
                values[spec.key] = await runtime.open_connection(
                    spec.key, component, chosen, fields
                )
        return await runtime.picklist(ref, values)
    finally:
        await runtime.aclose()


def render_result(data: dict[str, Any]) -> None:
    table = Table(
        "step", "action", "status", "attempts", "ms", title=f"{data['flow']}: {data['status']}"
    )
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
    from runtime.cli import keys, ops, worker  # noqa: F401


def main() -> None:
    """Console-script entry point: add plugin commands, then run."""
    try:
        settings_from_env()  # a mistyped RELAY_LOG_LEVEL is an error, not a silent default
        Budget.from_env()  # and RELAY_EXPRESSION_BUDGET / RELAY_EXPRESSION_TIME_LIMIT
        pm = make_plugin_manager()
        _load_commands()
        pm.hook.register_commands(cli=cli)
    except RelayError as exc:
        err.print(f"error: {exc}", markup=False)
        sys.exit(1)
    cli(prog_name="relay")
