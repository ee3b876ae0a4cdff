"""``relay components`` and ``relay describe``: what the installed components declare, their
inputs with types, defaults, examples and JSON schemas."""

from __future__ import annotations

import json
from typing import Any

import click
from rich.markup import escape

from runtime.cli.common import emit_json, handle_errors, out
from runtime.cli.state import new_runtime
from runtime.editor_schema import authored_input_schema
from runtime.errors import RelayError


@click.command("components")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def components_command(as_json: bool) -> None:
    """List installed components and what they declare."""
    runtime = new_runtime()
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


def _authored(schema: dict[str, Any], inputs: Any) -> dict[str, Any]:
    """The inputs' schema as a flow author writes them (see ``authored_input_schema``)."""
    properties = dict(schema.get("properties") or {})
    for spec in inputs:
        if spec.type == "connection" and spec.key in properties:
            properties[spec.key] = authored_input_schema(spec)
    return {**schema, "properties": properties}


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
                "schema": authored_input_schema(spec),
            }
        )
    return rows


@click.command("describe")
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@handle_errors
def describe_command(ref: str, as_json: bool) -> None:
    """Describe COMPONENT or COMPONENT.KEY (an action, trigger, data source or connection)."""
    runtime = new_runtime()
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
        "schema": _authored(registered.schema(kind, key).schema, item.inputs),
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
