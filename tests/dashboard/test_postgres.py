"""The dashboard's pages on PostgreSQL: the same reads as on SQLite (the overview's counts,
the search with its error text and cursor, an execution's document, the deliveries panel)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from relay_backends import store_url
from relay_dashboard import Dashboard
from relay_service_support import CONFIG, FLOW, in_process_service, sign
from relay_waiting import status_seen

from runtime import Runtime

pytestmark = [pytest.mark.asyncio, pytest.mark.postgres]


async def test_every_page_renders_on_postgresql(tmp_path: Path) -> None:
    flow = tmp_path / "plain.yaml"
    flow.write_text(FLOW)
    with store_url("postgresql", tmp_path) as url:
        async with in_process_service(Runtime(), url, tmp_path) as (relay, _executor, client):
            instance = await relay.deploy(flow, CONFIG, "hooks")
            _record, token = await relay.store.create_api_token("pg", "admin")
            ids = []
            for pause in (0, "x"):
                raw = json.dumps({"n": 1, "pause": pause}).encode()
                answer = await client.post(
                    "/webhooks/" + instance.webhook_token, content=raw, headers=sign(raw)
                )
                ids.append(answer.json()["execution_id"])
            await status_seen(relay.store, ids[0], "completed")
            await status_seen(relay.store, ids[1], "failed")
            board = Dashboard(client)
            await board.sign_in(token)
            overview = await board.get("/")
            assert "1 completed" in overview.text and "1 failed" in overview.text
            row = await relay.store.get_execution(ids[1])
            assert row is not None and row.result is not None
            word = row.result["error"]["message"].split()[0]
            found = await board.get("/executions", params={"error": word, "instance": "hooks"})
            assert ids[1][:12] in found.text and ids[0][:12] not in found.text
            page = await board.get(f"/executions/{ids[0]}")
            assert page.status_code == 200 and 'data-path="answer"' in page.text
            forged = await client.post(
                "/webhooks/" + instance.webhook_token, content=b"{}", headers=sign(b"other")
            )
            assert forged.status_code == 401
            instance_page = await board.get("/instances/hooks")
            assert re.search(r"version 1 · <time>", instance_page.text)
            # the deliveries panel and its filtered page read the same records on PostgreSQL
            shown = re.findall(r'<tr class="delivery delivery-([a-z]+)">', instance_page.text)
            assert sorted(shown) == ["accepted", "accepted", "rejected"]
            rejected = await board.get(
                "/instances/hooks/deliveries", params={"outcome": "rejected"}
            )
            assert rejected.status_code == 200
            assert re.findall(r'<tr class="delivery delivery-([a-z]+)">', rejected.text) == [
                "rejected"
            ]
            assert "bad signature" in rejected.text
