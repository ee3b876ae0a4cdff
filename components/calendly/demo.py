"""``relay demo``: the whole story on the embedded defaults, in one process, over real HTTP.

The Calendly sandbox and relay's server each listen on a loopback port. relay connects to the
sandbox (OAuth authorization code with PKCE), deploys a flow (which creates the sandbox's
webhook subscription), then simulated invitees book, cancel and reschedule; the sandbox
delivers signed webhooks to relay, which records and runs each execution. A live table shows
them; a summary says where to look next.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from runtime import FlowError, RelayError, Runtime

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Awaitable, Callable

    from runtime import Service

    #: What ``relay demo`` does while its servers stay up: (summary, dashboard URL, token).
    Hold = Callable[[dict[str, Any], str, str], Awaitable[None]]

#: ``flows/booking-follow-up.yaml``: a link in the checkout, a copy in the wheel, so ``relay demo``
#: works from an install too.
DEFAULT_FLOW = Path(__file__).resolve().parent / "demo_flow.yaml"
console = Console(highlight=False)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def _serve(app: Any, port: int) -> AsyncIterator[None]:
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, access_log=False, log_level="warning", lifespan="auto"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # surfaces the startup error
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task


def _table(rows: list[Any]) -> Table:
    table = Table("event", "status", "steps", "ms", title="executions", pad_edge=False)
    # ids are what `relay execution` takes: never cut (a narrow terminal folds them)
    table.add_column("execution", overflow="fold", min_width=32)
    for row in rows[:15]:
        result = row.result or {}
        event = (row.payload or {}).get("branch") or "-"
        style = {"completed": "green", "failed": "red"}.get(row.status, "yellow")
        table.add_row(
            str(event),
            f"[{style}]{row.status}[/{style}]",
            str(len(result.get("steps", []))),
            f"{result.get('duration_ms', 0):.0f}" if result else "-",
            row.id,
        )
    return table


async def run_demo(
    flow_path: Path, home: Path, bookings: int, hold: Hold | None = None
) -> dict[str, Any]:
    """Serve a sandbox and a relay on loopback ports, connect, deploy ``flow_path`` and book
    ``bookings`` invitees, then wait for their executions and replay one.

    Everything relay stores goes under ``home``. Returns the counts the summary prints
    (execution statuses, events, deliveries, API requests, seconds), the first execution's
    id and the replay (source id, new id, status), so the command can point at them. With
    ``hold``, the servers stay up while it runs: it is given the summary, the dashboard's URL
    and an admin API token of this demo's store to sign in with.
    """
    # the service side (store, server) loads only when the demo runs, not with every command
    from components.calendly.sandbox import Sandbox, SandboxConfig
    from runtime import InProcessExecutor, Service, create_app, open_store

    sandbox_port, relay_port = _free_port(), _free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    relay_url = f"http://127.0.0.1:{relay_port}"
    sandbox = Sandbox(SandboxConfig(seed=42, events=60, base_url=sandbox_url))
    runtime = Runtime()
    store = await open_store(f"sqlite+aiosqlite:///{home / 'relay.db'}", data_dir=home)
    relay = Service(runtime, store, base_url=relay_url)
    executor = InProcessExecutor(relay)
    started = time.perf_counter()
    try:
        async with (
            _serve(sandbox.app, sandbox_port),
            _serve(create_app(relay, executor), relay_port),
        ):
            console.print(f"sandbox   {sandbox_url}  (Calendly API, OAuth server, webhook sender)")
            console.print(f"relay     {relay_url}  (webhooks, in-process executor)")
            console.print(f"store     {store.url}")
            client_id, client_secret = sandbox.register_client()
            fields = {
                "clientId": client_id,
                "clientSecret": client_secret,
                "useLiveServer": False,
                "sandboxUrl": sandbox_url,
            }
            handle = await relay.connect("sandbox", "calendly", "calendlyOauth2Connection", fields)
            console.print(
                "connected calendly as 'sandbox' (authorization code + PKCE; token encrypted)"
            )
            types = await relay.runtime.picklist(
                "calendly.eventTypes", {"connection": handle, "active": True}
            )
            console.print(
                f"picked    follow-up event type {types[0]['label']!r} (eventTypes picklist)"
            )
            config = demo_config(
                flow_path,
                runtime.load_flow(flow_path),
                {"organization": sandbox.organization.uri, "followUpEventType": types[0]["key"]},
            )
            instance = await relay.deploy(flow_path, config, "demo")
            console.print(f"deployed  {instance.name}: {instance.flow_name}")
            console.print(f"          webhook {relay.webhook_url(instance).rsplit('/', 1)[0]}/…")
            _simulate(sandbox, bookings)
            console.print(f"simulated {bookings} bookings, 2 cancellations, 1 reschedule")
            # every delivery answered (so every execution the flow's events start is recorded)
            await sandbox.drain_webhooks()
            rows = await _watch(relay)
            replayed = await _replay_one(relay, rows)
            summary = _summary(sandbox, rows, replayed, time.perf_counter() - started)
            if hold is not None:
                _record, token = await relay.store.create_api_token("demo", "admin")
                await hold(summary, f"{relay_url}/dashboard/", token)
    finally:
        await relay.aclose()
        await runtime.aclose()
        await store.close()
    return summary


def _summary(
    sandbox: Any, rows: list[Any], replayed: tuple[str, str, str] | None, elapsed: float
) -> dict[str, Any]:
    statuses = Counter(r.status for r in rows)
    events = Counter(str((r.payload or {}).get("branch")) for r in rows)
    return {
        "statuses": dict(statuses),
        "events": dict(events),
        "deliveries": len(sandbox.deliveries),
        "api_requests": len(sandbox.requests),
        "seconds": round(elapsed, 2),
        "first": rows[-1].id if rows else None,
        "replay": replayed,
    }


async def _replay_one(relay: Service, rows: list[Any]) -> tuple[str, str, str] | None:
    """Replay a booking from its branch step, reusing the recorded first step's output."""
    booked = next((r for r in rows if (r.payload or {}).get("branch") == "invitee.created"), None)
    if booked is None:
        return None
    new_id = await relay.replay(booked.id, from_step="route")
    status = await relay.execute(new_id, "demo") or "not run"
    return booked.id, new_id, status


def _simulate(sandbox: Any, bookings: int) -> None:
    invitees = [sandbox.book() for _ in range(bookings)]
    for invitee in invitees[:2]:
        sandbox.cancel(invitee["uri"], reason="demo: plans changed")
    sandbox.reschedule(invitees[2]["uri"])


async def _watch(relay: Service) -> list[Any]:
    """The demo's executions, shown live until every recorded one has finished."""
    deadline = time.monotonic() + 60
    rows: list[Any] = []
    with Live(_table(rows), console=console, refresh_per_second=8) as live:
        while time.monotonic() < deadline:
            rows = await relay.store.list_executions(instance="demo", limit=500)
            live.update(_table(rows))
            if all(r.status in ("completed", "failed", "canceled") for r in rows):
                break
            await asyncio.sleep(0.1)
    return rows


#: What the demo fills in a flow's config besides connections, secrets and defaults.
FILLED = ("organization", "followUpEventType")


def demo_config(flow_path: Path, flow: Any, known: dict[str, Any]) -> dict[str, Any]:
    """A config for ``flow`` from what the demo has: its Calendly OAuth connection (stored as
    ``sandbox``), the values in ``known`` (by variable name), a fresh value for each secret
    string; a variable with a default keeps it. Anything else is one error naming the keys."""
    import secrets

    config: dict[str, Any] = {}
    missing = []
    for var in flow.config:
        if var.type == "connection":
            if (var.component, var.connection) == ("calendly", "calendlyOauth2Connection"):
                config[var.name] = {"use": "sandbox"}
            else:
                missing.append(f"{var.name} (a {var.component}.{var.connection} connection)")
        elif var.name in known:
            config[var.name] = known[var.name]
        elif var.default is not None or not var.required:
            continue
        elif var.secret and var.type == "string":
            config[var.name] = secrets.token_urlsafe(24)
        else:
            missing.append(f"{var.name} ({var.type})")
    if missing:
        raise RelayError(
            f"{flow_path}: the demo cannot fill config {', '.join(missing)}: it fills Calendly "
            f"OAuth connections, {', '.join(FILLED)}, secret strings, and keeps defaults"
        )
    return config


@click.command("demo")
@click.option(
    "--flow",
    "flow_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_FLOW,
    show_default=True,
)
@click.option(
    "--home",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".relay/demo"),
    show_default=True,
    help="Where the demo keeps its database and key (wiped first).",
)
@click.option("--bookings", default=5, show_default=True, type=click.IntRange(3, 500))
@click.option(
    "--no-dashboard",
    "once",
    is_flag=True,
    help="Stop when the story is told, instead of serving the dashboard until Ctrl-C.",
)
def demo_command(flow_path: Path, home: Path, bookings: int, once: bool) -> None:
    """Run relay end to end against the Calendly sandbox, on the embedded defaults; then
    keep the dashboard up (its URL and a sign-in token are printed) until Ctrl-C."""
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    os.environ.setdefault("RELAY_HOME", str(home))

    async def hold(summary: dict[str, Any], url: str, token: str) -> None:
        _print_summary(summary, home, serving=True)
        console.print()
        console.print(f"[bold]dashboard[/bold] {url}", soft_wrap=True)
        console.print(f"  sign in with the API token {token}", soft_wrap=True, markup=False)
        console.print("  (an admin token of this demo's store only; Ctrl-C stops the demo)")
        sys.stdout.flush()
        await asyncio.Event().wait()  # until Ctrl-C cancels it

    try:
        summary = asyncio.run(run_demo(flow_path, home, bookings, None if once else hold))
    except KeyboardInterrupt:
        console.print("stopped")
        return
    except FlowError as exc:
        for problem in exc.problems:
            console.print(str(problem), markup=False, soft_wrap=True)
        raise SystemExit(1) from None
    except RelayError as exc:  # one line, however wide the terminal
        console.print(f"error: {exc}", markup=False, soft_wrap=True)
        raise SystemExit(1) from None
    _print_summary(summary, home, serving=False)
    failed = summary["statuses"].get("failed", 0)
    if failed or not summary["statuses"].get("completed"):
        raise SystemExit(1)


def _print_summary(summary: dict[str, Any], home: Path, *, serving: bool) -> None:
    console.print()
    console.print(f"[bold]done in {summary['seconds']} s[/bold]: executions {summary['statuses']}")
    console.print(f"  by event: {summary['events']}")
    sent, served = summary["deliveries"], summary["api_requests"]
    console.print(
        f"  webhook deliveries sent by the sandbox: {sent}; API requests it served: {served}"
    )
    if summary["replay"]:
        original, new_id, status = summary["replay"]
        console.print(f"  replayed {original} from 'route'")
        console.print(f"        as {new_id}: {status}")
    if serving:
        console.print("next (in another terminal, while the demo runs):")
    else:
        console.print(
            "next (the sandbox stopped with the demo; `relay sandbox` serves one to keep):"
        )
    relay = _relay_command()
    console.print(f"  RELAY_HOME={home} {relay} executions", soft_wrap=True)
    if summary["first"]:
        console.print(f"  RELAY_HOME={home} {relay} execution {summary['first']}", soft_wrap=True)


def _relay_command() -> str:
    """How to call this ``relay`` again: ``relay`` when the PATH finds this one, else its path
    (after ``make demo`` it is ``.venv/bin/relay``, which the PATH does not hold)."""
    running = Path(sys.argv[0])
    found = shutil.which("relay")
    if running.name != "relay" or (found and Path(found).resolve() == running.resolve()):
        return "relay"
    return str(running)
