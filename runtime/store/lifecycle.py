"""The life of a deployed instance: its flow versions (redeploy in place), pause and resume.

A redeploy replaces the instance's flow text, config and deploy state and adds a
``flow_versions`` row in one transaction, so a delivery recorded meanwhile (which copies the
instance's flow text and version into its execution in its own transaction) has the old
version or the new one, never a mix. Pausing marks the instance; deliveries recorded while it
is paused start as ``held`` executions, which no executor claims, until ``resume_instance``
makes them pending again, oldest first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, update

from runtime.errors import ConfigurationError, NotFound
from runtime.store.base import StoreBase
from runtime.store.db import writer
from runtime.store.records import FlowVersion, Instance
from runtime.store.tables import executions, flow_versions, instances
from runtime.store.values import now

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncConnection


class LifecycleQueries(StoreBase):
    """The ``Store``'s flow version, pause and resume methods."""

    async def redeploy_instance(
        self,
        name: str,
        *,
        replaces: int,
        flow_name: str,
        flow_path: str,
        flow_text: str,
        config: dict[str, Any],
        deploy_state: dict[str, Any],
    ) -> Instance:
        """Make ``flow_text`` (with ``config`` and ``deploy_state``, both encrypted) the next
        flow version of instance ``name``, which must still run version ``replaces`` (a
        concurrent redeploy is a ``ConfigurationError``); name, webhook token, status, state
        and cursor stay. ``NotFound`` if there is no instance ``name``."""
        c = instances.c
        encrypted = self.keyring.encrypt_json(config)
        async with writer(self.engine).begin() as conn:
            current = await _locked(conn, name)
            if current.flow_version != replaces:
                raise ConfigurationError(
                    f"instance {name!r} was redeployed meanwhile (it runs flow version "
                    f"{current.flow_version} now, not {replaces}); nothing was changed"
                )
            newest = await conn.scalar(
                select(func.max(flow_versions.c.version)).where(flow_versions.c.instance == name)
            )
            version = max(int(newest or 0), current.flow_version) + 1
            t = now()
            await conn.execute(
                update(instances)
                .where(c.name == name)
                .values(
                    flow_name=flow_name,
                    flow_path=flow_path,
                    flow_text=flow_text,
                    flow_version=version,
                    config=encrypted,
                    deploy_state=self.keyring.encrypt_json(deploy_state),
                )
            )
            await conn.execute(
                flow_versions.insert().values(
                    instance=name,
                    version=version,
                    flow_text=flow_text,
                    config=encrypted,
                    created_at=t,
                )
            )
            row = (await conn.execute(select(instances).where(c.name == name))).one()
        return Instance.from_row(row._mapping, self.keyring)

    async def list_flow_versions(self, name: str) -> list[FlowVersion]:
        """Every flow version of instance ``name``, oldest first (none: no such instance)."""
        v = flow_versions.c
        query = select(flow_versions).where(v.instance == name).order_by(v.version)
        async with self.engine.connect() as conn:
            return [
                FlowVersion.from_row(r._mapping, self.keyring) for r in await conn.execute(query)
            ]

    async def get_flow_version(self, name: str, version: int) -> FlowVersion | None:
        """Flow version ``version`` of instance ``name``, or ``None``."""
        v = flow_versions.c
        query = select(flow_versions).where(v.instance == name, v.version == version)
        async with self.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else FlowVersion.from_row(row._mapping, self.keyring)

    async def pause_instance(self, name: str) -> bool:
        """Pause instance ``name``: ``False`` if it was paused already; ``NotFound`` if there
        is no such instance."""
        c = instances.c
        async with writer(self.engine).begin() as conn:
            paused = await conn.execute(
                update(instances)
                .where(c.name == name, c.status == "running")
                .values(status="paused", paused_at=now())
            )
            if paused.rowcount == 1:
                return True
            await _locked(conn, name)  # NotFound, or it was paused
            return False

    async def resume_instance(self, name: str) -> list[str]:
        """Resume instance ``name`` and make the executions it held pending again; returns
        their ids in the order their deliveries were recorded (empty when it was running).
        ``NotFound`` if there is no such instance."""
        c, e = instances.c, executions.c
        async with writer(self.engine).begin() as conn:
            # the instance's row first: a delivery that saw it paused has committed its held
            # execution by the time this update has the row (see ``_instance_flow``)
            resumed = await conn.execute(
                update(instances)
                .where(c.name == name)
                .values(status="running", paused_at=None)
                .returning(c.status)
            )
            if resumed.first() is None:
                raise NotFound("instance", name)
            released = await conn.execute(
                update(executions)
                .where(e.instance == name, e.status == "held")
                .values(status="pending")
                .returning(e.id, e.created_at)
            )
            rows = sorted(released, key=lambda r: (r.created_at, r.id))
        return [r.id for r in rows]


async def _locked(conn: AsyncConnection, name: str) -> Any:
    """The instance row ``name`` (locked for the transaction on PostgreSQL); ``NotFound``."""
    row = (
        await conn.execute(select(instances).where(instances.c.name == name).with_for_update())
    ).first()
    if row is None:
        raise NotFound("instance", name)
    return row
