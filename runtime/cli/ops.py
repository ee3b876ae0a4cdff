"""CLI commands that operate relay as a service: instances, connections, serving, executions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import click
from rich.markup import escape
from rich.table import Table

from runtime.api import Runtime
from runtime.cli import cli, emit_json, err, handle_errors, out, read_data_file, run_async
from runtime.cli.values import finite, rows_text
from runtime.errors import ConfigurationError, RelayError
from runtime.executors import EXECUTORS
from runtime.redaction import SECRET_KEYS
from runtime.results import execution_document

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
    """Deploy FLOW as an instance with its own config; prints its webhook URL (if any)."""
    config = read_data_file(config_path, "config") or {}

    async def main() -> Any:
        async with service() as relay:
            instance = await relay.deploy(flow_path, config, name)
            return instance.name, _webhook_url(relay, instance)

    instance_name, url = run_async(main())
    out.print(f"deployed {instance_name}", markup=False)
    shown = url or "none (this flow is not triggered by webhooks)"
    out.print(f"webhook URL: {shown}", markup=False)


def _webhook_url(relay: Relay, instance: Any) -> str | None:
    """The instance's webhook URL, or ``None`` for a flow nothing posts to (schedule, manual,
    polling)."""
    flow = relay.flow_of(instance)
    trigger = flow.trigger
    if trigger.kind == "webhook":
        return relay.webhook_url(instance)
    if trigger.kind == "component":
        declared = relay.runtime.registry.require(str(trigger.component)).component.trigger(
            str(trigger.trigger)
        )
        if declared is not None and declared.kind == "webhook":
            return relay.webhook_url(instance)
    return None


@cli.command("undeploy")
@click.argument("name")
@click.option(
    "--force",
    is_flag=True,
    help="Remove the instance even when its trigger's undeploy step fails (e.g. the API is "
    "down); says what was left behind to delete by hand.",
)
@handle_errors
def undeploy_command(name: str, force: bool) -> None:
    """Remove the instance NAME, running its trigger's undeploy step first."""

    async def main() -> list[str]:
        async with service() as relay:
            instance = await relay.store.get_instance(name)
            if instance is None:
                raise ConfigurationError(f"no instance named {name!r}")
            try:
                await relay.undeploy(name)
            except RelayError as exc:
                if not force:
                    raise ConfigurationError(
                        f"{exc} (the instance is kept; `relay undeploy {name} --force` removes "
                        "it anyway)"
                    ) from None
                await relay.store.delete_instance(name)
                relay.forget(name)
                return [f"the trigger's undeploy step failed: {exc}", *_left_behind(instance)]
            return []

    notes = run_async(main())
    out.print(f"undeployed {name}", markup=False)
    for line in notes:
        out.print(line, markup=False)


def _left_behind(instance: Any) -> list[str]:
    """What a forced undeploy leaves for the user to delete by hand (never a secret)."""
    lines = []
    for key, value in sorted(instance.deploy_state.items()):
        if isinstance(value, str) and value and not SECRET_KEYS.match(key):
            lines.append(f"left behind (delete it by hand): {key} {value}")
    return lines or ["nothing recorded was left behind"]


@cli.command("instances")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def instances_command(as_json: bool) -> None:
    """List deployed instances (whole webhook URLs; none for flows nothing posts to)."""

    async def main() -> list[dict[str, Any]]:
        async with service() as relay:
            return [
                {
                    "name": i.name,
                    "flow": i.flow_name,
                    "version": i.flow_version,
                    "path": i.flow_path,
                    "webhook_url": _webhook_url(relay, i),
                    "created_at": i.created_at,
                }
                for i in await relay.store.list_instances()
            ]

    rows = run_async(main())
    if as_json:
        emit_json(rows)
        return
    lines = rows_text(
        ("name", "flow", "version", "created", "webhook URL"),
        (
            (
                r["name"],
                r["flow"],
                str(r["version"]),
                _when(r["created_at"]),
                r["webhook_url"] or "-",
            )
            for r in rows
        ),
    )
    for line in lines:
        out.print(line, markup=False)


@cli.command("executions")
@click.option("--instance")
@click.option(
    "--status", type=click.Choice(["pending", "running", "completed", "failed", "canceled"])
)
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def executions_command(instance: str | None, status: str | None, limit: int, as_json: bool) -> None:
    """List recent executions, newest first (whole ids)."""

    async def main() -> list[Any]:
        async with service() as relay:
            rows = await relay.store.list_executions(instance=instance, status=status, limit=limit)
            unknown = instance is not None and not rows
            if unknown and await relay.store.get_instance(str(instance)) is None:
                raise ConfigurationError(f"--instance: no instance named {instance!r}")
            return rows

    rows = run_async(main())
    if as_json:
        emit_json([_row_summary(r) for r in rows])
        return
    lines = rows_text(
        ("id", "status", "created", "ms", "instance", "replay of"),
        (
            (
                row.id,
                row.status,
                _when(row.created_at),
                str(_row_summary(row)["duration_ms"] or "-"),
                row.instance or "-",
                row.replay_of or "",
            )
            for row in rows
        ),
    )
    for line in lines:
        out.print(line, markup=False)


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


async def find_execution(relay: Relay, given: str) -> Any:
    """The execution whose id is ``given`` or starts with it (one line when none or several)."""
    row = await relay.store.get_execution(given)
    if row is not None:
        return row
    count, ids = await relay.store.executions_with_prefix(given.lower(), limit=1)
    if count == 0:
        raise ConfigurationError(f"no execution {given!r}")
    if count > 1:
        raise ConfigurationError(
            f"execution id {given!r} is ambiguous: {count} executions start with it "
            "(give more of the id)"
        )
    return await relay.store.get_execution(ids[0])


@cli.command("execution")
@click.argument("execution_id")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def execution_command(execution_id: str, as_json: bool) -> None:
    """Show one execution (ID or a unique prefix): its step timeline with inputs and outputs.

    ``--json`` prints the same document as ``relay run --json``.
    """

    async def main() -> Any:
        async with service() as relay:
            return await find_execution(relay, execution_id)

    row = run_async(main())
    data = execution_document(
        row.result,
        payload=row.payload,
        id=row.id,
        instance=row.instance,
        status=row.status,
        created_at=row.created_at,
        finished_at=row.finished_at,
        replay_of=row.replay_of,
    )
    if as_json:
        emit_json(data)
        return
    out.print(f"{row.id}  {row.instance}  {row.status}", markup=False)
    table = Table("step", "action", "status", "attempts", "ms", "inputs", "output / error")
    for column in table.columns:
        column.overflow = "fold"
    for step in data["steps"]:
        detail = step.get("error") or step.get("output")
        table.add_row(
            escape(step["path"]),
            step.get("action") or step["kind"],
            step["status"],
            str(step.get("attempts") or ""),
            f"{step.get('duration_ms', 0):.1f}",
            _short(step.get("inputs")),
            _short(detail),
        )
    out.print(table)
    error = data["error"]
    if error:
        out.print(f"error: {error.get('message')}", markup=False)


def _short(value: Any, width: int = 60) -> str:
    if value is None:
        return ""
    text = json.dumps(finite(value), default=str)
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
    """Run a recorded execution (ID or a unique prefix) again with the same trigger payload.

    Exits 1 when the replay ran and did not complete.
    """

    async def main() -> tuple[str, str | None, Any]:
        async with service() as relay:
            original = await find_execution(relay, execution_id)
            new_id = await relay.replay(original.id, from_step=from_step, flow_version=flow_version)
            status = await relay.execute(new_id, "cli") if wait else None
            row = await relay.store.get_execution(new_id) if wait else None
            return new_id, status, row

    new_id, status, row = run_async(main())
    out.print(f"replay {new_id}" + (f": {status}" if status else " recorded"), markup=False)
    if wait and status != "completed":
        error = ((row.result if row is not None else None) or {}).get("error") or {}
        if error:
            err.print(f"error in step {error.get('step')}: {error.get('message')}", markup=False)
        sys.exit(1)


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
            if not registered.component.connections:
                raise ConfigurationError(f"component {component!r} declares no connection")
            key = connection_key or registered.component.connections[0].key
            stored_name = name or component
            _refuse_in_process(relay, config_path, component, key, fields)
            handle = await relay.connect(
                stored_name, component, key, fields, _browser_consent(timeout)
            )
            return f"connected {stored_name} ({component}.{key}, {handle.declaration.kind})"

    out.print(run_async(main()), markup=False)


def _refuse_in_process(
    relay: Relay, config_path: str, component: str, key: str, fields: dict[str, Any]
) -> None:
    """A connection whose API this process serves itself (the in-process sandbox) lives only as
    long as this command: its token would be useless to every later one, so it is refused."""
    from runtime.http import origin_of

    schema = relay.runtime.registry.require(component).schema("connection", key)
    try:
        cleaned = schema.validate(fields)
    except RelayError:
        return  # ``connect`` reports the fields' problems with their paths
    endpoints = relay.runtime.connection_declaration(component, key).endpoints(cleaned)
    origin = origin_of(endpoints.api_base_url)
    if origin is not None and relay.runtime.router.serves_origin(origin):
        raise ConfigurationError(
            f"{config_path}: {endpoints.api_base_url} is served inside this command only (an "
            "in-process sandbox forgets its tokens when the command ends): run `relay sandbox` "
            "and set sandboxUrl to its URL (e.g. http://127.0.0.1:8765), or useLiveServer: true"
        )


def _browser_consent(timeout: float) -> Any:
    """Print the authorize URL and wait for the redirect on the local callback port."""

    async def consent(url: str, redirect_uri: str) -> str:
        from runtime.oauth_callback import wait_for_redirect

        out.print("Open this URL to authorize relay:", markup=False)
        out.print(url, markup=False)
        return await wait_for_redirect(redirect_uri, timeout)

    return consent
