"""Instances: deployed flows with their (encrypted) config and deploy state."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from runtime.errors import ConfigurationError, NotFound
from runtime.store.base import StoreBase
from runtime.store.db import writer
from runtime.store.records import Instance
from runtime.store.tables import (
    cursors,
    deliveries,
    delivery_rejections,
    executions,
    flow_versions,
    instances,
    state,
)
from runtime.store.values import dumps, now

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


class InstanceQueries(StoreBase):
    """The ``Store``'s instance methods."""

    async def create_instance(
        self,
        name: str,
        flow_name: str,
        flow_path: str,
        flow_text: str,
        config: dict[str, Any],
        webhook_token: str,
        *,
        deploy_state: dict[str, Any] | None = None,
    ) -> Instance:
        """Store a new instance (flow version 1, kept in ``flow_versions`` too). Its name and
        webhook token must be unused.
        ``deploy_state`` (encrypted) is what deploy already knows, e.g. a plain webhook's
        evaluated secret, written in the same transaction as the instance."""
        values = {
            "name": name,
            "flow_name": flow_name,
            "flow_path": flow_path,
            "flow_text": flow_text,
            "flow_version": 1,
            # the whole config is encrypted: which values are secret is the flow's business
            "config": self.keyring.encrypt_json(config),
            "webhook_token": webhook_token,
            "deploy_state": self.keyring.encrypt_json(deploy_state or {}),
            "created_at": now(),
        }
        try:
            async with writer(self.engine).begin() as conn:
                await conn.execute(instances.insert().values(values))
                await conn.execute(
                    flow_versions.insert().values(
                        instance=name,
                        version=1,
                        flow_text=flow_text,
                        config=values["config"],
                        created_at=values["created_at"],
                    )
                )
        except IntegrityError as exc:
            raise ConfigurationError(
                f"an instance named {name!r} (or with that webhook token) already exists"
            ) from exc
        return Instance.from_row(values, self.keyring)

    async def get_instance(self, name: str) -> Instance | None:
        """The instance ``name``, or ``None``."""
        return await self._one(instances.c.name == name)

    async def instance_by_token(self, webhook_token: str) -> Instance | None:
        """The instance a webhook URL belongs to (``None``: answer 404, run nothing)."""
        return await self._one(instances.c.webhook_token == webhook_token)

    async def list_instances(self) -> list[Instance]:
        """Every instance, by name."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(instances).order_by(instances.c.name))
            return [Instance.from_row(r._mapping, self.keyring) for r in rows]

    async def delete_instance(self, name: str) -> None:
        """Forget an instance with its state, cursor, flow versions, dedupe records and
        rejection counts; its
        executions stay (history), so ``relay executions`` still shows what it ran. Deliveries
        it held while paused will never run: they are recorded canceled."""
        async with writer(self.engine).begin() as conn:
            await conn.execute(delete(instances).where(instances.c.name == name))
            await conn.execute(delete(flow_versions).where(flow_versions.c.instance == name))
            e = executions.c
            await conn.execute(
                update(executions)
                .where(e.instance == name, e.status == "held")
                .values(status="canceled", finished_at=now(), result=dumps(_UNDEPLOYED))
            )
            await conn.execute(delete(cursors).where(cursors.c.instance == name))
            await conn.execute(delete(deliveries).where(deliveries.c.instance == name))
            await conn.execute(
                delete(delivery_rejections).where(delivery_rejections.c.instance == name)
            )
            await conn.execute(
                delete(state).where(state.c.scope != "integration", state.c.key == name)
            )

    async def set_deploy_state(self, name: str, deploy_state: dict[str, Any]) -> None:
        """Replace what the deploy lifecycle returned (encrypted: it may hold signing keys);
        ``NotFound`` if there is no instance ``name``."""
        async with writer(self.engine).begin() as conn:
            await _update(conn, name, deploy_state=self.keyring.encrypt_json(deploy_state))

    async def update_instance_flow(self, name: str, flow_text: str, version: int) -> None:
        """Point the instance at a new flow text, as flow version ``version``; ``NotFound``
        if there is no instance ``name``."""
        async with writer(self.engine).begin() as conn:
            await _update(conn, name, flow_text=flow_text, flow_version=version)

    async def record_webhook_url(self, name: str, url: str) -> None:
        """Remember the webhook URL instance ``name`` was registered with (at deploy)."""
        async with writer(self.engine).begin() as conn:
            await conn.execute(
                update(instances).where(instances.c.name == name).values(webhook_url=url)
            )

    async def registered_webhook_urls(self) -> dict[str, str | None]:
        """Each instance's webhook URL as registered at deploy (``None``: not recorded)."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(instances.c.name, instances.c.webhook_url).order_by(instances.c.name)
            )
            return {name: url for name, url in rows}

    async def _one(self, where: Any) -> Instance | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(instances).where(where))).first()
        return None if row is None else Instance.from_row(row._mapping, self.keyring)


#: The result of a held delivery whose instance was undeployed before it was resumed.
_UNDEPLOYED = {
    "status": "canceled",
    "error": {"type": "Canceled", "message": "the instance was undeployed while paused"},
    "steps": [],
    "outputs": {},
    "connections": {},
}


async def _update(conn: AsyncConnection, name: str, **values: Any) -> None:
    result = await conn.execute(update(instances).where(instances.c.name == name).values(values))
    if result.rowcount == 0:
        raise NotFound("instance", name)
