"""``relay deploy``, ``undeploy``, ``instances``, ``serve`` and ``connect``: relay operated as a
service over the configured store."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import TYPE_CHECKING, Any

import click

from runtime.cli.common import (
    emit_json,
    err,
    handle_errors,
    out,
    read_data_file,
    run_async,
    service,
    values_from,
    when,
)
from runtime.cli.values import rows_text
from runtime.errors import ConfigurationError, ReconnectRequired, RelayError
from runtime.executors import EXECUTORS
from runtime.redaction import SECRET_KEYS

if TYPE_CHECKING:
    from runtime.service import Service


@click.command("deploy")
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

    with values_from(config_path):
        instance_name, url = run_async(main())
    out.print(f"deployed {instance_name}", markup=False)
    shown = url or "none (this flow is not triggered by webhooks)"
    out.print(f"webhook URL: {shown}", markup=False)


def _webhook_url(relay: Service, instance: Any) -> str | None:
    """The instance's webhook URL, or ``None`` for a flow nothing posts to (schedule, manual,
    polling)."""
    receives = relay.flow_of(instance).trigger.receives_webhooks
    return relay.webhook_url(instance) if receives else None


@click.command("undeploy")
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


@click.group("instances", invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@handle_errors
def instances_command(ctx: click.Context, as_json: bool) -> None:
    """List deployed instances (whole webhook URLs; none for flows nothing posts to).

    ``relay instances sync`` re-registers those whose webhook URL moved.
    """
    if ctx.invoked_subcommand is not None:
        return

    async def main() -> list[dict[str, Any]]:
        async with service() as relay:
            return [
                {
                    "name": i.name,
                    "flow": i.flow_name,
                    "version": i.flow_version,
                    "status": i.status,
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
        ("name", "flow", "version", "status", "created", "webhook URL"),
        (
            (
                r["name"],
                r["flow"],
                str(r["version"]),
                r["status"],
                when(r["created_at"]),
                r["webhook_url"] or "-",
            )
            for r in rows
        ),
    )
    for line in lines:
        out.print(line, markup=False)


@click.command("serve")
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
@click.option(
    "--api/--no-api",
    default=True,
    show_default=True,
    help="Serve the management API under /api/v1 and the dashboard under /dashboard (API "
    "tokens: `relay tokens`).",
)
@handle_errors
def serve_command(
    host: str,
    port: int,
    grace: float,
    public_url: str | None,
    lease: float,
    executor_kind: str,
    api: bool,
) -> None:
    """Serve webhooks; run executions in this process or hand them to workers."""
    import uvicorn

    from runtime.executors import make_executor
    from runtime.logs import configure_from_env
    from runtime.server import create_app
    from runtime.server.listen import bind_socket, moved_webhook_urls
    from runtime.server.protocol import HEAD_TIMEOUT, head_timeout_protocol
    from runtime.server.pruning import retention_from_env
    from runtime.service import checked_public_url
    from runtime.service import public_url as configured_public_url

    if public_url:
        base = checked_public_url(public_url, "--public-url")
    elif os.environ.get("RELAY_PUBLIC_URL"):
        base = configured_public_url()
    else:
        base = f"http://{host}:{port}"
    configure_from_env()
    retention = retention_from_env()  # a bad policy is one line, before anything starts
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
            app = create_app(relay, executor, grace=grace, api=api, retention=retention)
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
            if api:
                out.print(
                    f"dashboard http://{host}:{port}/dashboard/ (sign in with an API token: "
                    "relay tokens create)",
                    markup=False,
                )
            await uvicorn.Server(config).serve(sockets=[sock])  # its lifespan freezes the heap

    try:
        asyncio.run(main())
    finally:
        sock.close()


@instances_command.command("sync")
@click.argument("names", nargs=-1)
@click.option("--dry-run", is_flag=True, help="Name the instances whose URL moved; change nothing.")
@click.option("--json", "as_json", is_flag=True)
@handle_errors
def instances_sync_command(names: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Re-register the instances (NAMES, or all) whose webhook URL moved with the public URL.

    Each one's trigger registers the new URL (e.g. a new Calendly subscription) and its old
    registration is removed. Exits 1 when one could not be re-registered.
    """

    async def main() -> list[Any]:
        async with service() as relay:
            return await relay.sync_webhook_urls(names or None, dry_run=dry_run)

    done = run_async(main())
    if as_json:
        emit_json(
            [
                {"name": m.name, "old": m.old, "new": m.new, "outcome": m.outcome, "note": m.note}
                for m in done
            ]
        )
    else:
        if not done:
            out.print("every instance is registered where this server receives it", markup=False)
        for m in done:
            verb = "would re-register" if m.outcome == "would" else m.outcome
            out.print(f"{m.name}: {verb} {m.old} -> {m.new}", markup=False)
            if m.note:
                out.print(f"  {m.note}", markup=False)
    if any(m.outcome == "failed" for m in done):
        sys.exit(1)


@click.command("connect")
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

    with values_from(config_path):
        out.print(run_async(main()), markup=False)


def _refuse_in_process(
    relay: Service, config_path: str, component: str, key: str, fields: dict[str, Any]
) -> None:
    """A connection whose API this process serves itself (the in-process sandbox) lives only as
    long as this command: its token would be useless to every later one, so it is refused."""
    from runtime.transport import origin_of

    schema = relay.runtime.registry.require(component).schema("connection", key)
    try:
        cleaned = schema.validate(fields)
    except RelayError:
        return  # ``connect`` reports the fields' problems with their paths
    endpoints = relay.runtime.connection_declaration(component, key).endpoints_for(cleaned)
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
        try:
            async with asyncio.timeout(timeout):
                return await wait_for_redirect(redirect_uri)
        except TimeoutError:
            raise ReconnectRequired("authorization", f"no answer within {timeout:.0f} s") from None

    return consent
