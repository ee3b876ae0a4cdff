"""The API's instance lifecycle: deploy from flow text, redeploy in place, pause, resume,
undeploy, and the flow versions an instance has had.

Deploying and redeploying take the flow as text: every problem ``relay validate`` would report
comes back as a 422 problem, each at its line and column, and nothing changes. Config values
are taken as given and never echoed back (an instance's config is read with its secrets
redacted, ``GET /instances/{name}``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from runtime.errors import FlowError, NotFound, RelayError
from runtime.management.problems import ApiProblem, FieldProblem, ProblemRoute
from runtime.management.routes import NO_NUL

if TYPE_CHECKING:
    from runtime.executors import Executor
    from runtime.management.auth import Authenticator
    from runtime.service import Service

Name = Annotated[str, Path(min_length=1, max_length=200, pattern=NO_NUL)]
Force = Annotated[bool, Query(description="Remove it even if its undeploy step fails.")]
#: The largest flow text the API takes (a flow file is a few kilobytes).
FLOW_MAX = 1_000_000


class DeployRequest(BaseModel):
    """A new instance: its name, flow text and config."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    flow: str = Field(min_length=1, max_length=FLOW_MAX, description="The flow, as YAML text.")
    config: dict[str, Any] = Field(default_factory=dict, description="The flow's config values.")


class RedeployRequest(BaseModel):
    """A new flow version and/or config for an instance (either may be left out)."""

    flow: str | None = Field(default=None, min_length=1, max_length=FLOW_MAX)
    config: dict[str, Any] | None = None


class Deployed(BaseModel):
    """An instance as deployed or redeployed."""

    name: str
    flow: str
    flow_version: int
    webhook_url: str | None
    status: str
    deploy_step_ran: bool = Field(description="Whether the trigger's deploy step ran.")
    notes: list[str] = Field(default_factory=list, description="For the operator.")


class StatusChange(BaseModel):
    """What a pause or resume did."""

    name: str
    status: str
    changed: bool = Field(description="False when the instance already had that status.")
    released: list[str] = Field(
        default_factory=list, description="Executions a resume released, in the order received."
    )


class SyncRequest(BaseModel):
    """Which instances to re-register (all, by default), or only find them."""

    names: list[str] | None = Field(default=None, max_length=1000)
    dry_run: bool = False


class SyncedInstance(BaseModel):
    """One instance whose webhook URL moved, and what the sync did."""

    name: str
    old: str = Field(description="Where its sender posted.")
    new: str = Field(description="Where this server receives it.")
    outcome: str = Field(description="would (a dry run), re-registered, recorded or failed.")
    note: str = ""


class FlowVersionView(BaseModel):
    """One flow an instance was deployed with (its config stays in the store)."""

    version: int
    created_at: float
    flow: str = Field(description="The flow text.")


def _problems(exc: FlowError) -> ApiProblem:
    """A flow's problems as one 422, each naming its place in the flow text."""
    errors = [
        FieldProblem(
            location="body",
            field="$.flow",
            message=f"{p.line}:{p.column}: {p.message}" if p.line else str(p),
        )
        for p in exc.problems
    ]
    return ApiProblem(422, "invalid-flow", exc.summary, errors=errors)


def _refused(exc: RelayError) -> ApiProblem:
    """A refused deploy or redeploy: the flow's problems, a missing instance, or what else
    was wrong (a config value), as one problem."""
    if isinstance(exc, FlowError):
        return _problems(exc)
    if isinstance(exc, NotFound):
        return ApiProblem(404, "not-found", str(exc))
    return ApiProblem(422, "invalid", str(exc))


def lifecycle_router(relay: Service, executor: Executor, auth: Authenticator) -> APIRouter:
    """Deploy, redeploy and undeploy (admin); pause and resume (operate); versions (read)."""
    router = APIRouter(prefix="/instances", tags=["instances"], route_class=ProblemRoute)
    _deploy_routes(router, relay, [Depends(auth.require("admin"))])
    _state_routes(router, relay, executor, [Depends(auth.require("operate"))])
    _version_routes(router, relay, [Depends(auth.require("read"))])
    _sync_routes(router, relay, [Depends(auth.require("admin"))])
    return router


def _view(
    relay: Service, instance: Any, ran: bool, notes: tuple[str, ...] = ()
) -> dict[str, object]:
    flow = relay.flow_of(instance)
    return {
        "name": instance.name,
        "flow": instance.flow_name,
        "flow_version": instance.flow_version,
        "webhook_url": relay.webhook_url(instance) if flow.trigger.receives_webhooks else None,
        "status": instance.status,
        "deploy_step_ran": ran,
        "notes": list(notes),
    }


def _deploy_routes(router: APIRouter, relay: Service, admin: list[Any]) -> None:
    @router.post("", response_model=Deployed, status_code=201, dependencies=admin)
    async def deploy(request: DeployRequest) -> dict[str, object]:
        """Deploy a flow as a new instance (its trigger's deploy step runs); 409 when the
        name is taken."""
        if await relay.store.get_instance(request.name) is not None:
            raise ApiProblem(409, "conflict", f"an instance named {request.name!r} exists")
        try:
            instance = await relay.deploy(
                f"{request.name}.yaml", request.config, request.name, text=request.flow
            )
        except RelayError as exc:
            raise _refused(exc) from None
        return _view(relay, instance, True)

    @router.post("/{name}/redeploy", response_model=Deployed, dependencies=admin)
    async def redeploy(name: Name, request: RedeployRequest) -> dict[str, object]:
        """A new flow version and/or config in place: the same name and webhook URL, state
        and poll cursor kept; the new flow is checked before anything changes."""
        current = await relay.store.get_instance(name)
        if current is None:
            raise ApiProblem(404, "not-found", f"no instance named {name!r}")
        flow = request.flow if request.flow is not None else current.flow_text
        try:
            done = await relay.redeploy(name, flow, request.config)
        except RelayError as exc:
            raise _refused(exc) from None
        return _view(relay, done.instance, done.deployed, done.notes)

    @router.delete("/{name}", status_code=204, dependencies=admin)
    async def undeploy(name: Name, force: Force = False) -> None:
        """Undeploy: run the trigger's undeploy step (e.g. delete the webhook subscription)
        and remove the instance."""
        if await relay.store.get_instance(name) is None:
            raise ApiProblem(404, "not-found", f"no instance named {name!r}")
        try:
            await relay.undeploy(name)
        except RelayError as exc:
            if not force:
                raise ApiProblem(
                    409, "conflict", f"the undeploy step failed: {exc} (force=true removes it)"
                ) from None
            await relay.store.delete_instance(name)
            relay.forget(name)


def _state_routes(
    router: APIRouter, relay: Service, executor: Executor, operate: list[Any]
) -> None:
    @router.post("/{name}/pause", response_model=StatusChange, dependencies=operate)
    async def pause(name: Name) -> dict[str, object]:
        """Hold the instance's deliveries (recorded, answered, not run) and stop its
        schedule and polls."""
        try:
            changed = await relay.pause(name)
        except NotFound as exc:
            raise ApiProblem(404, "not-found", str(exc)) from None
        return {"name": name, "status": "paused", "changed": changed, "released": []}

    @router.post("/{name}/resume", response_model=StatusChange, dependencies=operate)
    async def resume(name: Name) -> dict[str, object]:
        """Run the held deliveries in the order received, and start the schedule and polls
        again."""
        try:
            released = await relay.resume(name)
        except NotFound as exc:
            raise ApiProblem(404, "not-found", str(exc)) from None
        for execution_id in released:
            await executor.submit(execution_id, name)
        return {"name": name, "status": "running", "changed": True, "released": released}


def _version_routes(router: APIRouter, relay: Service, read: list[Any]) -> None:
    @router.get("/{name}/versions", response_model=list[FlowVersionView], dependencies=read)
    async def versions(name: Name) -> list[dict[str, object]]:
        """Every flow version of the instance, oldest first."""
        try:
            found = await relay.flow_versions(name)
        except NotFound as exc:
            raise ApiProblem(404, "not-found", str(exc)) from None
        return [
            {"version": v.version, "created_at": v.created_at, "flow": v.flow_text} for v in found
        ]


def _sync_routes(router: APIRouter, relay: Service, admin: list[Any]) -> None:
    @router.post("/sync", response_model=list[SyncedInstance], dependencies=admin)
    async def sync(request: SyncRequest | None = None) -> list[dict[str, object]]:
        """Re-register the instances whose webhook URL moved with the public URL: the new URL
        registered by each one's trigger, the old registration removed."""
        options = request or SyncRequest()
        try:
            done = await relay.sync_webhook_urls(options.names, dry_run=options.dry_run)
        except NotFound as exc:
            raise ApiProblem(404, "not-found", str(exc)) from None
        return [
            {"name": m.name, "old": m.old, "new": m.new, "outcome": m.outcome, "note": m.note}
            for m in done
        ]
