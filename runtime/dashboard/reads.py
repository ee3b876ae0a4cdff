"""What each dashboard page shows, read through the same service and view functions the
management API's handlers call (no HTTP loopback): secrets redacted the same way."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

from runtime.dashboard.shapes import chart, step_tree
from runtime.errors import RelayError
from runtime.management.connection_ops import connection_views
from runtime.management.views import (
    delivery_item,
    encode_key,
    execution_summary,
    execution_view,
    redacted_config,
)
from runtime.store.deliveries import Outcome
from runtime.store.execution_pages import ExecutionFilter
from runtime.store.executions import UNFINISHED
from runtime.store.tallies import hour_of

if TYPE_CHECKING:
    from runtime.flows import Flow
    from runtime.service import Service
    from runtime.store import Instance
    from runtime.store.records import ExecutionRow


#: The overview's window: 24 clock hours (the current one included).
SPANS = 24
#: Executions an instance page lists (the executions page finds the rest).
RECENT = 20
#: Deliveries the instance page's panel lists, and a page of its deliveries page.
DELIVERIES_SHOWN = 20
#: What the deliveries may be narrowed to (as the API takes it).
OUTCOMES: tuple[str, ...] = get_args(Outcome)


def flow_of(relay: Service, instance: Instance) -> Flow | None:
    """The instance's flow; ``None`` when it no longer loads (its component uninstalled)."""
    try:
        return relay.flow_of(instance)
    except RelayError:
        return None


def _webhook_url(relay: Service, instance: Instance, flow: Flow | None) -> str | None:
    if flow is not None and not flow.trigger.receives_webhooks:
        return None
    return relay.webhook_url(instance)


async def overview(relay: Service) -> dict[str, Any]:
    """Each instance with its status, last 24 hours and last execution; what needs attention."""
    now = relay.runtime.clock.time()
    instances = await relay.store.list_instances()
    counts = await relay.store.execution_activity(hour_of(now) - (SPANS - 1), SPANS)
    connections = await connection_views(relay)
    registered = await relay.store.registered_webhook_urls()
    broken = {c["name"] for c in connections if c["status"] == "reconnect_needed"}
    rows, attention = [], []
    for c in connections:
        if c["status"] == "reconnect_needed":
            attention.append({"kind": "connection", "name": c["name"], "reason": c["reason"]})
    # the rejections this process counted, written once for every instance's last delivery
    await relay.intake.rejections.flush()
    for instance in instances:
        flow = flow_of(relay, instance)
        last = await relay.store.page_executions(ExecutionFilter(instance=instance.name), 1)
        delivered = await relay.store.page_deliveries(instance.name, None, 1)
        drawn = chart(counts.get(instance.name, {}), SPANS)
        uses = {v.get("use") for v in instance.config.values() if isinstance(v, dict)}
        url = _webhook_url(relay, instance, flow)
        status = "running"
        if instance.status == "paused":
            status = "paused"
        elif uses & broken:
            status = "reconnect needed"
        elif last and last[0].status == "failed":
            status = "failing"
        if status == "failing":
            failed = drawn["counts"].get("failed", 0)
            attention.append(
                {"kind": "failing", "name": instance.name, "reason": f"{failed} failed in 24 h"}
            )
        old = registered.get(instance.name)
        if url is not None and old is not None and old != url:
            attention.append({"kind": "moved", "name": instance.name, "reason": old})
        rows.append(
            {
                "name": instance.name,
                "flow": instance.flow_name,
                "version": instance.flow_version,
                "status": status,
                "chart": drawn,
                "last": execution_summary(last[0]) if last else None,
                "delivery": delivery_item(delivered[0]) if delivered else None,
                "loads": flow is not None,
            }
        )
    return {"instances": rows, "attention": attention, "now": now}


async def instance_page(relay: Service, instance: Instance) -> dict[str, Any]:
    """One instance: flow, config (redacted), webhook URL, newest deliveries, recent
    executions and versions."""
    flow = flow_of(relay, instance)
    recent = await relay.store.page_executions(ExecutionFilter(instance=instance.name), RECENT)
    versions = await relay.flow_versions(instance.name)
    users = [c for c in await connection_views(relay) if instance.name in c["used_by"]]
    registered = (await relay.store.registered_webhook_urls()).get(instance.name)
    url = _webhook_url(relay, instance, flow)
    return {
        "instance": instance,
        "flow_text": instance.flow_text,
        "loads": flow is not None,
        "config": redacted_config(relay, instance, flow),
        "webhook_url": url,
        "registered_url": registered,
        "moved": url is not None and registered is not None and registered != url,
        "executions": [execution_summary(r) for r in recent],
        "versions": [{"version": v.version, "created_at": v.created_at} for v in versions],
        "connections": users,
        **await deliveries_panel(relay, instance.name),
    }


async def deliveries_panel(
    relay: Service,
    name: str,
    outcome: Outcome | None = None,
    after: tuple[float, str] | None = None,
    limit: int = DELIVERIES_SHOWN,
) -> dict[str, Any]:
    """Up to ``limit`` of instance ``name``'s deliveries, newest first, after the keyset
    position ``after``; the cursor of the next page (the API's encoding), if there is one."""
    rows = await relay.deliveries(name, outcome, limit + 1, after)
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "deliveries": [delivery_item(r) for r in rows],
        "deliveries_cursor": encode_key(*rows[-1].key) if more else None,
        "deliveries_outcome": outcome,
        "outcomes": OUTCOMES,
    }


async def execution_page(relay: Service, row: ExecutionRow) -> dict[str, Any]:
    """One execution: its document (redacted), step tree and timeline, replay choices."""
    document = await execution_view(relay, row)
    steps = document["steps"]
    start = document.get("started_at") or document.get("created_at")
    top = [
        s["id"] for s in steps if "." not in str(s.get("path")) and "[" not in str(s.get("path"))
    ]
    return {
        "execution": document,
        "row": row,
        "tree": step_tree(steps, start),
        "top_steps": list(dict.fromkeys(top)),
        "unfinished": row.status in UNFINISHED,
        "attempts": row.attempts,
        "flow_version": row.flow_version,
    }


def list_filter(params: dict[str, Any]) -> ExecutionFilter:
    """The executions page's search as the store's filter (``params`` already checked)."""
    return ExecutionFilter(
        instance=params.get("instance"),
        status=params.get("status"),
        created_after=params.get("since"),
        created_before=params.get("until"),
        error=params.get("error"),
        flow_version=params.get("version"),
    )
