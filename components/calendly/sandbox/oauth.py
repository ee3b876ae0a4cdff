"""The OAuth 2.0 server (``/oauth/*``): authorize without a browser, token, introspect, revoke."""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from .tokens import AccessToken, OAuthError, TokenRequest

if TYPE_CHECKING:
    from starlette.requests import Request

    from .sandbox import Sandbox

#: GET paths that change kept state (a code is minted), so a state file is saved after them.
CHANGING_READS = frozenset({"/oauth/authorize"})
#: Body fields that are secrets; recorded requests show them redacted.
SECRET_FIELDS = ("client_secret", "code", "code_verifier", "refresh_token", "token")


def _sandbox(request: Request) -> Sandbox:
    sb: Sandbox = request.app.state.sandbox
    return sb


def _error(exc: OAuthError) -> JSONResponse:
    return JSONResponse(
        {"error": exc.error, "error_description": exc.description},
        status_code=exc.status,
        headers={"Cache-Control": "no-store"},
    )


async def _form(request: Request) -> dict[str, str]:
    """The body as a flat dict, whether sent as a form or as JSON."""
    ctype = request.headers.get("content-type", "")
    raw = await request.body()
    if "application/json" in ctype:
        try:
            data: Any = json.loads(raw or b"{}")
        except ValueError as exc:
            raise OAuthError("invalid_request", "The body is not valid JSON.") from exc
        if not isinstance(data, dict):
            raise OAuthError("invalid_request", "The body must be a JSON object.")
        return {str(k): str(v) for k, v in data.items() if v is not None}
    # Parsed by hand: Starlette's form parser needs python-multipart, an extra dependency.
    try:
        return dict(parse_qsl(raw.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError as exc:
        raise OAuthError("invalid_request", "The body is not valid UTF-8.") from exc


def _client_credentials(request: Request, body: dict[str, str]) -> tuple[str | None, str | None]:
    """Client id and secret from HTTP Basic (preferred) or from the body."""
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip()).decode()
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise OAuthError("invalid_client", "Malformed Basic credentials.", 401) from exc
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return body.get("client_id"), body.get("client_secret")


def _redacted(body: dict[str, str]) -> dict[str, str]:
    return {k: ("[redacted]" if k in SECRET_FIELDS else v) for k, v in body.items()}


async def authorize(request: Request) -> Response:
    """Consent at once (no browser) and redirect to ``redirect_uri`` with a code."""
    sb = _sandbox(request)
    q = request.query_params
    sb.record(request, None)
    client_id = q.get("client_id")
    redirect_uri = q.get("redirect_uri")
    if not client_id or client_id not in sb.tokens.clients:
        return _error(OAuthError("invalid_client", "Unknown client_id.", 401))
    if not redirect_uri or urlsplit(redirect_uri).scheme not in ("http", "https"):
        return _error(OAuthError("invalid_request", "redirect_uri must be an absolute URL."))
    state = q.get("state")

    def back(params: dict[str, str]) -> RedirectResponse:
        if state is not None:
            params["state"] = state
        sep = "&" if "?" in redirect_uri else "?"
        return RedirectResponse(f"{redirect_uri}{sep}{urlencode(params)}", status_code=302)

    if q.get("response_type") != "code":
        return back({"error": "unsupported_response_type"})
    challenge = q.get("code_challenge")
    method = q.get("code_challenge_method", "S256" if challenge else None)
    if challenge is not None and method != "S256":
        return back(
            {"error": "invalid_request", "error_description": "code_challenge_method must be S256"}
        )
    user_uuid = sb.resolve_user(q.get("user"))
    if user_uuid is None:
        return back({"error": "access_denied"})
    code = sb.tokens.new_code(
        client_id, redirect_uri, user_uuid, q.get("scope") or "default", challenge
    )
    return back({"code": code})


def _peek_user(sb: Sandbox, body: dict[str, str]) -> str | None:
    """Whose token a request is for, before it is consumed (for the per-user token limit)."""
    grant = body.get("grant_type")
    if grant == "authorization_code":
        code = sb.tokens.codes.get(body.get("code", ""))
        return code.user_uuid if code else None
    if grant == "refresh_token":
        rt = sb.tokens.refresh.get(body.get("refresh_token", ""))
        return rt.user_uuid if rt else None
    return None


async def token(request: Request) -> Response:
    """Grant tokens for ``authorization_code`` and ``refresh_token``."""
    sb = _sandbox(request)
    client_id: str | None = None
    grant: str | None = None
    user: str | None = None
    try:
        body = await _form(request)
        sb.record(request, _redacted(body))
        grant = body.get("grant_type")
        user = _peek_user(sb, body)
        client_id = sb.tokens.check_client(*_client_credentials(request, body))
        if user is not None and (
            sb.tokens.recent_requests(user) >= sb.config.token_requests_per_minute
        ):
            raise OAuthError("too_many_requests", "Too many token requests; retry later.", 429)
        if not grant:
            raise OAuthError("invalid_request", "The request is missing grant_type.")
        if grant == "authorization_code":
            access, refresh = sb.tokens.exchange_code(
                client_id, body.get("code"), body.get("redirect_uri"), body.get("code_verifier")
            )
        elif grant == "refresh_token":
            access, refresh = sb.tokens.rotate(client_id, body.get("refresh_token"))
        else:
            raise OAuthError("unsupported_grant_type", f"Grant type {grant!r} is not supported.")
    except OAuthError as exc:
        sb.tokens.requests.append(TokenRequest(client_id, grant, user, sb.clock(), exc.error))
        return _error(exc)
    sb.tokens.requests.append(TokenRequest(client_id, grant, access.user_uuid, sb.clock(), "ok"))
    return JSONResponse(sb.token_response(access, refresh), headers={"Cache-Control": "no-store"})


async def introspect(request: Request) -> Response:
    """RFC 7662 introspection: ``{"active": bool, ...}``."""
    sb = _sandbox(request)
    try:
        body = await _form(request)
        sb.record(request, _redacted(body))
        sb.tokens.check_client(*_client_credentials(request, body))
    except OAuthError as exc:
        return _error(exc)
    value = body.get("token", "")
    access: AccessToken | None = sb.tokens.authenticate(value)
    if access is not None:
        out: dict[str, Any] = {
            "active": True,
            "scope": access.scope,
            "client_id": access.client_id,
            "token_type": "Bearer",
            "iat": int(access.created_at),
            "owner": sb.render.user_uri(access.user_uuid),
            "organization": sb.render.org_uri(sb.state.users[access.user_uuid].org_uuid),
        }
        if access.expires_at is not None:
            out["exp"] = int(access.expires_at)
        return JSONResponse(out)
    refresh = sb.tokens.refresh.get(value)
    if refresh is not None and not refresh.revoked:
        return JSONResponse(
            {
                "active": True,
                "scope": refresh.scope,
                "client_id": refresh.client_id,
                "token_type": "refresh_token",
                "iat": int(refresh.created_at),
                "owner": sb.render.user_uri(refresh.user_uuid),
            }
        )
    return JSONResponse({"active": False})


async def revoke(request: Request) -> Response:
    """RFC 7009 revocation; always 200 for an authenticated client."""
    sb = _sandbox(request)
    try:
        body = await _form(request)
        sb.record(request, _redacted(body))
        sb.tokens.check_client(*_client_credentials(request, body))
        if not body.get("token"):
            raise OAuthError("invalid_request", "The request is missing token.")
    except OAuthError as exc:
        return _error(exc)
    sb.tokens.revoke(body["token"])
    return JSONResponse({})


def routes() -> list[Route]:
    """The OAuth routes, mounted at the sandbox root (Calendly serves them on its auth host)."""
    return [
        Route("/oauth/authorize", authorize, methods=["GET"]),
        Route("/oauth/token", token, methods=["POST"]),
        Route("/oauth/introspect", introspect, methods=["POST"]),
        Route("/oauth/revoke", revoke, methods=["POST"]),
    ]
