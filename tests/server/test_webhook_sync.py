"""Webhook URLs follow the server: after the public URL changes, sync re-registers exactly the
instances registered elsewhere (the sandbox shows the new URL and no longer the old one) and
leaves the others alone; a dry run only names them; the API and the CLI do the same."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import pytest_asyncio
from calendly_hook import HOOK_FLOW, sandbox_connection
from relay_service_support import in_process_service

from components.calendly.sandbox import Sandbox, SandboxConfig
from runtime import (
    InProcessExecutor,
    ManualClock,
    NotFound,
    Runtime,
    Service,
    create_app,
)
from runtime.server.listen import moved_webhook_urls

NOW = 1_800_000_000.0
FLOW = HOOK_FLOW
NEW_BASE = "https://relay.new.example"


@attrs.define
class Setup:
    old: Service
    new: Service
    sandbox: Sandbox

    def urls(self) -> set[str]:
        return {h.url for h in self.sandbox.state.webhooks.values() if h.state == "active"}


@pytest_asyncio.fixture
async def setup(tmp_path: Path, store_url: str) -> AsyncIterator[Setup]:
    clock = ManualClock(now=NOW)
    sandbox = Sandbox(
        SandboxConfig(seed=3, events=5, base_url="http://calendly.test"), clock=clock.time
    )
    runtime = Runtime(hosts={"calendly.test": sandbox.app}, clock=clock)
    async with in_process_service(runtime, store_url, tmp_path) as (relay, _executor, _client):
        config = await sandbox_connection(relay, sandbox, NOW)
        flow = tmp_path / "hook.yaml"
        flow.write_text(FLOW)
        for name in ("moves", "also"):
            await relay.deploy(flow, config, name)
        # the same store served at another public URL (the server moved)
        moved = Service(runtime, relay.store, base_url=NEW_BASE)
        try:
            yield Setup(relay, moved, sandbox)
        finally:
            await moved.aclose()


def url_of(service: Service, instance: Any) -> str:
    return service.webhook_url(instance)


@pytest.mark.asyncio
async def test_sync_re_registers_exactly_what_moved(setup: Setup) -> None:
    instances = {i.name: i for i in await setup.old.store.list_instances()}
    old_urls = {url_of(setup.old, i) for i in instances.values()}
    new_urls = {url_of(setup.new, i) for i in instances.values()}
    assert old_urls <= setup.urls() and not new_urls & setup.urls()
    assert len(await moved_webhook_urls(setup.new)) == 2
    assert await moved_webhook_urls(setup.old) == []

    dry = await setup.new.sync_webhook_urls(dry_run=True)
    assert sorted(m.name for m in dry) == ["also", "moves"]
    assert {m.outcome for m in dry} == {"would"} and old_urls <= setup.urls()

    done = await setup.new.sync_webhook_urls(["moves"])
    assert [(m.name, m.outcome, m.note) for m in done] == [("moves", "re-registered", "")]
    moves_old, moves_new = (
        url_of(setup.old, instances["moves"]),
        url_of(setup.new, instances["moves"]),
    )
    assert moves_new in setup.urls() and moves_old not in setup.urls()
    assert url_of(setup.old, instances["also"]) in setup.urls()  # not asked: untouched
    again = await setup.new.sync_webhook_urls()
    assert [m.name for m in again] == ["also"]  # only what still differs
    assert setup.urls() >= new_urls and not old_urls & setup.urls()
    assert await setup.new.sync_webhook_urls() == []
    assert await moved_webhook_urls(setup.new) == []
    with pytest.raises(NotFound):
        await setup.new.sync_webhook_urls(["ghost"])


@pytest.mark.asyncio
async def test_the_api_syncs_with_the_admin_scope(setup: Setup) -> None:
    app = create_app(setup.new, InProcessExecutor(setup.new), fast_webhooks=False)
    _r, admin = await setup.new.store.create_api_token("admin", "admin")
    _r, operate = await setup.new.store.create_api_token("operate", "operate")
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=NEW_BASE
    ) as client:
        url = "/api/v1/instances/sync"
        refused = await client.post(url, headers={"Authorization": f"Bearer {operate}"})
        assert refused.status_code == 403
        headers = {"Authorization": f"Bearer {admin}"}
        dry = await client.post(url, json={"dry_run": True}, headers=headers)
        assert dry.status_code == 200 and {m["outcome"] for m in dry.json()} == {"would"}
        done = await client.post(url, json={"names": ["moves", "also"]}, headers=headers)
        assert sorted((m["name"], m["outcome"]) for m in done.json()) == [
            ("also", "re-registered"),
            ("moves", "re-registered"),
        ]
        assert all(m["new"].startswith(NEW_BASE) for m in done.json())
        missing = await client.post(url, json={"names": ["ghost"]}, headers=headers)
        assert missing.status_code == 404


def test_the_cli_names_an_unknown_instance_and_reports_nothing_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from runtime.cli import cli

    monkeypatch.setenv("RELAY_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("RELAY_DATABASE_URL", raising=False)
    runner = CliRunner()
    result = runner.invoke(cli, ["instances", "sync", "ghost"])
    assert result.exit_code == 1 and "no instance named 'ghost'" in result.stderr
    result = runner.invoke(cli, ["instances", "sync", "--dry-run", "--json"])
    assert (result.exit_code, result.stdout.strip()) == (0, "[]"), result.stderr
    result = runner.invoke(cli, ["instances", "sync"])
    assert result.stdout.strip() == "every instance is registered where this server receives it"
    assert runner.invoke(cli, ["instances", "--json"]).stdout.strip() == "[]"
