"""CLI commands that operate relay as a service: instances, connections, serving, executions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from runtime.api import Runtime
from runtime.cli import cli, emit_json, handle_errors, out, read_data_file, run_async
from runtime.errors import ConfigurationError
from runtime.executors import EXECUTORS

if TYPE_CHECKING:
    from runtime.service import Relay


@contextlib.asynccontextmanager
async def service(base_url: str | None = None) -> AsyncIterator[Relay]:
    """A Relay over the configured store (``RELAY_DATABASE_URL`` or ``$RELAY_HOME/relay.db``)."""
    from runtime.service import Relay
    from runtime.store import open_store

    runtime = Runtime()
    store = await open_store(os.environ.get("RELAY_DATABASE_URL"))
    try:
        yield Relay(runtime, store, base_url=base_url)
    finally:
        await runtime.aclose()
        await store.close()


def _when(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


@cli.command("deploy")
@click.argument("flow_path", metavar="FLOW", type=click.Path(dir_okay=False))
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False))
@click.option("--name", help="Instance name (default: the flow file's name).")
@handle_errors
def deploy_command(flow_path: str, config_path: str, name: str | None) -> None:
    """Deploy FLOW as an instance with its own config; prints its webhook URL."""
    config = read_data_file(config_path, "config") or {}

    async def main() -> Any:
        async with service() as relay:
            instance = await relay.deploy(flow_path, config, name)
            return instance.name, relay.webhook_url(instance)

    instance_name, url = run_async(main())
    out.print(f"deployed {instance_name}", markup=False)
    out.print(f"webhook URL: {url}", markup=False)


@cli.command("undeploy")
@click.argument("name")
@handle_errors
def undeploy_command(name: str) -> None:
    """Remove the instance NAME, running its trigger's undeploy step first."""

    async def main() -> None:
        async with service() as relay:
            await relay.undeploy(name)

    run_async(main())
    out.print(f"undeployed {name}", markup=False)


@cli.command("instances")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def instances_command(as_json: bool) -> None:
    """List deployed instances."""

    async def main() -> list[dict[str, Any]]:
        async with service() as relay:
            return [
                {
                    "name": i.name,
                    "flow": i.flow_name,
                    "version": i.flow_version,
                    "path": i.flow_path,
                    "webhook_url": relay.webhook_url(i),
                    "created_at": i.created_at,
                }
                for i in await relay.store.list_instances()
            ]

    rows = run_async(main())
    if as_json:
        emit_json(rows)
        return
    table = Table("name", "flow", "version", "webhook URL", "created")
    for row in rows:
        table.add_row(
            row["name"],
            row["flow"],
            str(row["version"]),
            row["webhook_url"],
            _when(row["created_at"]),
        )
    out.print(table)


@cli.command("executions")
@click.option("--instance")
@click.option(
    "--status", type=click.Choice(["pending", "running", "completed", "failed", "canceled"])
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def executions_command(instance: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """List recent executions, newest first."""

    async def main() -> list[Any]:
        async with service() as relay:
            return await relay.store.list_executions(instance=instance, status=status, limit=limit)

    rows = run_async(main())
    if as_json:
        emit_json([_row_summary(r) for r in rows])
        return
    table = Table("id", "instance", "status", "created", "duration ms", "replay of")
    for row in rows:
        summary = _row_summary(row)
        table.add_row(
            row.id,
            row.instance or "-",
            row.status,
            _when(row.created_at),
            str(summary["duration_ms"] or "-"),
            row.replay_of or "",
        )
    out.print(table)


def _row_summary(row: Any) -> dict[str, Any]:
    result = row.result or {}
    return {
        "id": row.id,
        "instance": row.instance,
        "status": row.status,
        "created_at": row.created_at,
        "finished_at": row.finished_at,
        "duration_ms": result.get("duration_ms"),
        "replay_of": row.replay_of,
        "error": result.get("error"),
    }


@cli.command("execution")
@click.argument("execution_id")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def execution_command(execution_id: str, as_json: bool) -> None:
    """Show one execution: its step timeline with inputs and outputs."""

    async def main() -> Any:
        async with service() as relay:
            return await relay.store.get_execution(execution_id)

    row = run_async(main())
    if row is None:
        raise ConfigurationError(f"no execution {execution_id!r}")
    data = {**_row_summary(row), "payload": row.payload, "result": row.result}
    if as_json:
        emit_json(data)
        return
    out.print(f"[bold]{row.id}[/bold]  {row.instance}  {row.status}")
    steps = (row.result or {}).get("steps", [])
    table = Table("step", "action", "status", "attempts", "ms", "inputs", "output / error")
    for step in steps:
        detail = step.get("error") or step.get("output")
        table.add_row(
            step["path"],
            step.get("action") or step["kind"],
            step["status"],
            str(step.get("attempts") or ""),
            f"{step.get('duration_ms', 0):.1f}",
            _short(step.get("inputs")),
            _short(detail),
        )
    out.print(table)
    error = (row.result or {}).get("error")
    if error:
        out.print(f"error: {error.get('message')}", markup=False)


def _short(value: Any, width: int = 60) -> str:
    if value is None:
        return ""
    text = json.dumps(value, default=str)
    return escape(text if len(text) <= width else text[: width - 1] + "…")


@cli.command("replay")
@click.argument("execution_id")
@click.option("--from-step", help="Reuse the recorded outputs of the top-level steps before it.")
@click.option(
    "--flow-version",
    type=click.Choice(["original", "current"]),
    default="original",
    show_default=True,
)
@click.option("--wait/--no-wait", default=True, show_default=True, help="Run it here and wait.")
@handle_errors
def replay_command(execution_id: str, from_step: str | None, flow_version: str, wait: bool) -> None:
    """Run a recorded execution again with the same trigger payload."""

    async def main() -> tuple[str, str | None]:
        async with service() as relay:
            new_id = await relay.replay(
                execution_id, from_step=from_step, flow_version=flow_version
            )
            status = await relay.execute(new_id, "cli") if wait else None
            return new_id, status

    new_id, status = run_async(main())
    out.print(f"replay {new_id}" + (f": {status}" if status else " recorded"), markup=False)


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--grace", default=10.0, show_default=True, help="Seconds to finish in-flight work.")
@click.option("--public-url", help="Base URL Calendly should call (default http://HOST:PORT).")
@click.option(
    "--lease",
    default=30.0,
    show_default=True,
    help="Seconds a claim on an execution lasts between heartbeats.",
)
@click.option(
    "--executor",
    "executor_kind",
    type=click.Choice(EXECUTORS),
    default="inprocess",
    show_default=True,
    help="Run executions here, or enqueue them for `relay worker` processes (Redis).",
)
@handle_errors
def serve_command(
    host: str, port: int, grace: float, public_url: str | None, lease: float, executor_kind: str
) -> None:
    """Serve webhooks; run executions in this process or hand them to workers."""
    import uvicorn

    from runtime.cli import err
    from runtime.executors import make_executor
    from runtime.heap import freeze_startup_heap
    from runtime.server import create_app
    from runtime.server.listen import bind_socket, moved_webhook_urls
    from runtime.server.protocol import HEAD_TIMEOUT, head_timeout_protocol
    from runtime.service import checked_public_url

    if public_url:
        base = checked_public_url(public_url, "--public-url")
    elif os.environ.get("RELAY_PUBLIC_URL"):
        base = checked_public_url(os.environ["RELAY_PUBLIC_URL"], "RELAY_PUBLIC_URL")
    else:
        base = f"http://{host}:{port}"
    # the port first: a busy one fails here, before the store's work is resumed or claimed
    sock = bind_socket(host, port)

    async def main() -> None:
        async with service(base) as relay:
            # refused before serving: a corrupt file (keys that cannot decrypt the store are
            # refused when it opens)
            await relay.store.check_integrity()
            for line in await moved_webhook_urls(relay):
                err.print(line, markup=False)
            executor = make_executor(executor_kind, relay, lease=lease)
            app = create_app(relay, executor, grace=grace)
            config = uvicorn.Config(
                app,
                http=head_timeout_protocol(HEAD_TIMEOUT),
                access_log=False,
                log_level="warning",
                timeout_graceful_shutdown=int(grace) + 1,
            )
            out.print(
                f"relay serving on http://{host}:{port} (store {relay.store.url})", markup=False
            )
            freeze_startup_heap()
            await uvicorn.Server(config).serve(sockets=[sock])

    try:
        asyncio.run(main())
    finally:
        sock.close()


@cli.command("connect")
@click.argument("component")
@click.option(
    "--config",
    "config_path",
    required=True,
    type=click.Path(dir_okay=False),
    help="Connection fields (YAML/JSON).",
)
@click.option("--name", help="Name to store it under (default: the component key).")
@click.option(
    "--connection",
    "connection_key",
    help="Which of the component's connections (default: its first).",
)
@click.option(
    "--timeout", default=300.0, show_default=True, help="Seconds to wait for the browser."
)
@handle_errors
def connect_command(
    component: str, config_path: str, name: str | None, connection_key: str | None, timeout: float
) -> None:
    """Authorize a connection (OAuth 2.0 code flow with state and PKCE) and store it.

    Flows then use it with ``calendly: {use: NAME}`` in their config. Against the sandbox
    the consent needs no browser; otherwise open the printed URL and approve.
    """
    fields = read_data_file(config_path, "config") or {}

    async def main() -> str:
        async with service() as relay:
            registered = relay.runtime.registry.require(component)
            key = connection_key or registered.component.connections[0].key
            stored_name = name or component
            handle = await relay.connect(
                stored_name, component, key, fields, _browser_consent(timeout)
            )
            return f"connected {stored_name} ({component}.{key}, {handle.declaration.kind})"

    out.print(run_async(main()), markup=False)


def _browser_consent(timeout: float) -> Any:
    """Print the authorize URL and wait for the redirect on the local callback port."""

    async def consent(url: str, redirect_uri: str) -> str:
        from runtime.oauth_callback import wait_for_redirect

        out.print("Open this URL to authorize relay:", markup=False)
        out.print(url, markup=False)
        return await wait_for_redirect(redirect_uri, timeout)

    return consent
