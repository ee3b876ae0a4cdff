"""The dashboard's buttons (POST, each behind its CSRF token and the management API's scope
for the same action): pause, resume, redeploy, sync, undeploy; replay, cancel, bulk replay;
test and reconnect a connection, and the OAuth callback a reconnect comes back to.

Each calls the service layer as the API's handler does, then redirects to the page it acted
on (post, redirect, get), or shows what went wrong, named."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.datastructures import UploadFile
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from runtime.dashboard import forms, reads
from runtime.errors import FlowError, NotFound, RelayError
from runtime.management.bulk import BulkFilter, bulk_replay
from runtime.management.connection_ops import Reconnects, try_connection
from runtime.management.lifecycle import FLOW_MAX

if TYPE_CHECKING:
    from starlette.requests import Request

    from runtime.dashboard.session import Session
    from runtime.dashboard.web import Pages
    from runtime.executors import Executor
    from runtime.service import Service

#: Where a reconnect's browser comes back, under the dashboard.
CALLBACK = "/oauth/callback"
#: A posted form's fields, each name with its values.
Fields = dict[str, list[Any]]


class ActionRoutes:
    """The POST routes and the OAuth callback over ``relay``, handing runs to ``executor``."""

    def __init__(self, relay: Service, executor: Executor, pages: Pages) -> None:
        self.relay = relay
        self.executor = executor
        self.pages = pages
        self.prefix = self.pages.prefix
        self.reconnects = Reconnects()

    def routes(self) -> list[Route]:
        """The routes, for the dashboard's app."""
        act, posted = self.instance_action, self.pages.posted
        return [
            Route(
                "/instances/{name}/pause", act("operate", "paused", self.pause), methods=["POST"]
            ),
            Route(
                "/instances/{name}/resume", act("operate", "resumed", self.resume), methods=["POST"]
            ),
            Route("/instances/{name}/sync", act("admin", "synced", self.sync), methods=["POST"]),
            Route(
                "/instances/{name}/undeploy",
                act("admin", "undeployed", self.undeploy),
                methods=["POST"],
            ),
            Route("/instances/{name}/redeploy", posted("admin", self.redeploy), methods=["POST"]),
            Route("/executions/replay", posted("operate", self.bulk), methods=["POST"]),
            Route(
                "/executions/{execution_id}/replay",
                posted("operate", self.replay),
                methods=["POST"],
            ),
            Route(
                "/executions/{execution_id}/cancel",
                posted("operate", self.cancel),
                methods=["POST"],
            ),
            Route(
                "/connections/{name}/test",
                posted("operate", self.connection_test),
                methods=["POST"],
            ),
            Route(
                "/connections/{name}/reconnect", posted("admin", self.reconnect), methods=["POST"]
            ),
            Route(CALLBACK, self.callback),
        ]

    def back(self, where: str, notice: str) -> RedirectResponse:
        """To the page at ``where`` (under the dashboard), saying ``notice``."""
        return RedirectResponse(f"{self.prefix}{where}?notice={notice}", status_code=303)

    def failed(self, request: Request, session: Session, exc: RelayError) -> Response:
        """The error page for what the service refused (404 for what does not exist, else
        409), its message redacted."""
        status = 404 if isinstance(exc, NotFound) else 409
        return self.pages.refused(
            request, session, status, self.relay.runtime.redactor.text(str(exc))
        )

    def instance_action(self, scope: str, notice: str, act: Any) -> Any:
        """A route for a button on an instance: ``act(name)`` behind ``scope``, then back."""

        async def endpoint(request: Request, session: Session, _fields: Fields) -> Response:
            name = request.path_params["name"]
            try:
                await act(name)
            except RelayError as exc:
                return self.failed(request, session, exc)
            where = "/" if notice == "undeployed" else f"/instances/{quote(name, safe='')}"
            return self.back(where, notice)

        return self.pages.posted(scope, endpoint)

    async def pause(self, name: str) -> None:
        """Hold the instance's deliveries."""
        await self.relay.pause(name)

    async def resume(self, name: str) -> None:
        """Run the held deliveries and go on."""
        for execution_id in await self.relay.resume(name):
            await self.executor.submit(execution_id, name)

    async def sync(self, name: str) -> None:
        """Re-register the instance's subscription at this server's URL."""
        for moved in await self.relay.sync_webhook_urls([name]):
            if moved.outcome == "failed":
                raise RelayError(f"the sync of {name} failed: {moved.note}")

    async def undeploy(self, name: str) -> None:
        """Run the undeploy step and remove the instance."""
        await self.relay.undeploy(name)

    async def redeploy(self, request: Request, session: Session, fields: Fields) -> Response:
        """A new flow version, validated first: its problems at their lines, or back."""
        name = request.path_params["name"]
        found = await self.relay.store.get_instance(name)
        if found is None:
            return self.pages.refused(request, session, 404, f"no instance named {name!r}")
        text, problem = await _flow_text(fields)
        if problem is None:
            try:
                await self.relay.redeploy(name, text)
            except FlowError as exc:
                return _problems(request, self.pages, session, found, text, exc)
            except RelayError as exc:
                problem = self.relay.runtime.redactor.text(str(exc))
            else:
                return self.back(f"/instances/{quote(name, safe='')}", "redeployed")
        context = await reads.instance_page(self.relay, found)
        return self.pages.render(
            request,
            "instance.html",
            session,
            status=422,
            redeploy_text=text,
            redeploy_problems=[{"line": 0, "column": 0, "message": problem}],
            **context,
        )

    async def replay(self, request: Request, session: Session, fields: Fields) -> Response:
        """Replay one execution (from a step, on the original or current version)."""
        execution_id = request.path_params["execution_id"]
        step, version, problem = forms.replay_choice(fields)
        original = await self.relay.store.get_execution(execution_id)
        if original is None:
            return self.pages.refused(request, session, 404, f"no execution {execution_id!r}")
        if problem is not None:
            return self.pages.refused(request, session, 422, problem)
        try:
            new_id = await self.relay.replay(execution_id, from_step=step, flow_version=version)
        except RelayError as exc:
            return self.failed(request, session, exc)
        await self.executor.submit(new_id, original.instance)
        return self.back(f"/executions/{quote(new_id, safe='')}", "replayed")

    async def cancel(self, request: Request, session: Session, _fields: Fields) -> Response:
        """Cancel a pending, held, waiting or running execution."""
        execution_id = request.path_params["execution_id"]
        try:
            outcome = await self.relay.cancel(execution_id)
        except LookupError:
            return self.pages.refused(request, session, 404, f"no execution {execution_id!r}")
        if outcome == "finished":
            return self.pages.refused(request, session, 409, "it has finished: nothing to cancel")
        return self.back(f"/executions/{quote(execution_id, safe='')}", "canceled")

    async def bulk(self, request: Request, session: Session, fields: Fields) -> Response:
        """Replay the ticked executions (or every one of an instance's with a status): their
        count first, then, once confirmed, each."""
        step, version, problem = forms.replay_choice(fields)
        ids, none_ticked = forms.selected(fields)
        matching = forms.first_value(fields, "instance")
        more = False
        if not ids and matching:
            status = forms.first_value(fields, "status") or "failed"
            if status not in ("completed", "failed", "canceled"):
                return self.pages.refused(
                    request, session, 422, "status: completed, failed or canceled"
                )
            # the API's bulk selection, dry: exactly what a real run would take now
            chosen = await bulk_replay(
                self.relay, BulkFilter(instance=matching[:200], status=status), dry_run=True
            )
            ids, more, none_ticked = chosen.chosen, chosen.more, None
            if not ids:
                none_ticked = f"no {status} execution of {matching} to replay"
        if problem or none_ticked:
            return self.pages.refused(request, session, 422, problem or none_ticked or "")
        if forms.first_value(fields, "confirm") != "yes":
            return self.pages.render(
                request,
                "replay_confirm.html",
                session,
                ids=ids,
                more=more,
                from_step=step,
                flow_version=version,
            )
        done, refused = [], []
        for original in reversed(ids):
            row = await self.relay.store.get_execution(original)
            if row is None:
                refused.append((original, "no such execution"))
                continue
            try:
                new_id = await self.relay.replay(original, from_step=step, flow_version=version)
            except RelayError as exc:
                refused.append((original, self.relay.runtime.redactor.text(str(exc))))
                continue
            await self.executor.submit(new_id, row.instance)
            done.append((new_id, original))
        return self.pages.render(
            request, "replay_done.html", session, replays=done, refused=refused
        )

    async def connection_test(
        self, request: Request, session: Session, _fields: Fields
    ) -> Response:
        """The connection's cheap test call."""
        name = request.path_params["name"]
        try:
            outcome = await try_connection(self.relay, name)
        except RelayError as exc:
            return self.failed(request, session, exc)
        return self.pages.render(request, "connection_test.html", session, outcome=outcome)

    async def reconnect(self, request: Request, session: Session, _fields: Fields) -> Response:
        """Begin the OAuth authorization-code flow again (the browser goes on to consent)."""
        name = request.path_params["name"]
        redirect_uri = f"{self.relay.base_url}{self.prefix}{CALLBACK}"
        try:
            started = await self.reconnects.begin(self.relay, name, redirect_uri)
        except RelayError as exc:
            return self.failed(request, session, exc)
        # a link, not a redirect: the page's form-action stays this site alone
        return self.pages.render(
            request, "reconnect.html", session, name=name, authorize_url=started.url
        )

    async def callback(self, request: Request) -> Response:
        """Where the authorization server sends the browser back: the code exchanged for a token."""
        # no session needed (the browser comes back from another site, which a SameSite=Strict
        # cookie does not follow): the state of a reconnect begun here is the proof
        state = request.query_params.get("state", "")
        if not state or len(state) > 200:
            return PlainTextResponse("relay: no reconnect is waiting for this", status_code=400)
        try:
            name = await self.reconnects.finish(self.relay, str(request.url), state)
        except RelayError as exc:
            return self.pages.refused(
                request, None, 400, self.relay.runtime.redactor.text(str(exc))
            )
        return self.pages.render(request, "connected.html", None, name=name)


async def _flow_text(fields: dict[str, list[Any]]) -> tuple[str, str | None]:
    """The flow a redeploy posted: the uploaded file if one was chosen, else the pasted text."""
    for upload in fields.get("flow_file", []):
        if isinstance(upload, UploadFile) and upload.filename:
            raw = await upload.read(FLOW_MAX + 1)
            if len(raw) > FLOW_MAX:
                return "", f"the flow file is larger than {FLOW_MAX} bytes"
            try:
                return raw.decode("utf-8"), None
            except UnicodeDecodeError:
                return "", "the flow file is not UTF-8 text"
    text = forms.first_value(fields, "flow") or ""
    if not text.strip():
        return "", "paste the new flow or choose its file"
    if len(text) > FLOW_MAX:
        return "", f"the flow is longer than {FLOW_MAX} characters"
    return text.replace("\r\n", "\n"), None


def _problems(
    request: Request,
    pages: Pages,
    session: Session,
    instance: Any,
    text: str,
    exc: FlowError,
) -> Response:
    """The redeploy form again, each of the flow's problems shown at its line."""
    problems = [{"line": p.line, "column": p.column, "message": p.message} for p in exc.problems]
    by_line: dict[int, list[dict[str, Any]]] = {}
    for problem, found in zip(problems, exc.problems, strict=True):
        by_line.setdefault(found.line or 0, []).append(problem)
    lines = [
        {"number": n, "text": line, "problems": by_line.get(n, [])}
        for n, line in enumerate(text.split("\n")[:20_000], start=1)
    ]
    return pages.render(
        request,
        "redeploy_problems.html",
        session,
        status=422,
        instance=instance,
        problems=problems,
        lines=lines,
        unplaced=by_line.get(0, []),
        redeploy_text=text,
    )
