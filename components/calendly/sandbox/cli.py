"""``relay sandbox``: serve the Calendly sandbox over HTTP with uvicorn."""

from __future__ import annotations

import click

from .config import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, SandboxConfig


@click.command("sandbox")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8765, show_default=True, type=int, help="Port to listen on.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed for the fake data.")
@click.option(
    "--events", default=200, show_default=True, type=int, help="How many scheduled events to seed."
)
def sandbox_command(host: str, port: int, seed: int, events: int) -> None:
    """Run the Calendly sandbox (API v2, OAuth and webhooks) on HOST:PORT."""
    import uvicorn

    from .sandbox import Sandbox

    base_url = f"http://{host}:{port}"
    sb = Sandbox(SandboxConfig(seed=seed, events=events, base_url=base_url))
    click.echo(f"Calendly sandbox on {base_url}  (seed {seed}, {events} events)")
    click.echo(f"  API base URL:   {base_url}")
    click.echo(f"  OAuth:          {base_url}/oauth/authorize  and  {base_url}/oauth/token")
    # The default client is public and sandbox-only, so printing its secret is safe; secrets of
    # clients registered later are returned only to whoever registers them.
    click.echo(f"  client id:      {DEFAULT_CLIENT_ID}  (secret: {DEFAULT_CLIENT_SECRET})")
    click.echo(f"  owner:          {sb.render.user_uri(sb.owner.uuid)}")
    click.echo(
        "  personal access token:  curl -X POST "
        f'{base_url}/_sandbox/tokens -d \'{{"kind": "pat"}}\''
    )
    click.echo(f"  control API:    {base_url}/_sandbox/state")
    # Access logs would print OAuth codes and tokens carried in query strings: keep them off.
    uvicorn.run(sb.app, host=host, port=port, access_log=False, log_level="info")
