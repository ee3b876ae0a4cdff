"""The Calendly connections: OAuth 2.0 (the reference's ``calendlyOauth2Connection``) and a
personal access token. "Use live server: false" points both at the sandbox."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from runtime import Connection, Input, OAuth2Endpoints

if TYPE_CHECKING:
    from collections.abc import Mapping

    from runtime import ConnectionHandle, Context

LIVE_API = "https://api.calendly.com"
LIVE_AUTHORIZE = "https://auth.calendly.com/oauth/authorize"
LIVE_TOKEN = "https://auth.calendly.com/oauth/token"  # noqa: S105 - a URL, not a secret
#: The in-process sandbox answers for this host (see ``in_process_hosts`` in the plugin).
SANDBOX_URL = "http://calendly.sandbox.invalid"

_LIVE = Input(
    key="useLiveServer",
    label="Use Live Server",
    type="boolean",
    required=True,
    default=False,
    comments="Use the live Calendly API, or (false) relay's Calendly sandbox.",
)
_SANDBOX = Input(
    key="sandboxUrl",
    label="Sandbox URL",
    default=SANDBOX_URL,
    comments="Where the sandbox runs when not live (`relay sandbox`); the default is in-process.",
    example="http://127.0.0.1:8765",
    schema={"pattern": "^https?://"},
)


def oauth_endpoints(fields: Mapping[str, Any]) -> OAuth2Endpoints:
    """Where the OAuth server and the API are: live Calendly (the connection's own URLs, else
    Calendly's: a personal token has none) or the sandbox."""
    if fields.get("useLiveServer"):
        return OAuth2Endpoints(
            authorize_url=str(fields.get("authorizeUrl") or LIVE_AUTHORIZE),
            token_url=str(fields.get("tokenUrl") or LIVE_TOKEN),
            api_base_url=LIVE_API,
        )
    base = str(fields.get("sandboxUrl") or SANDBOX_URL).rstrip("/")
    return OAuth2Endpoints(
        authorize_url=f"{base}/oauth/authorize",
        token_url=f"{base}/oauth/token",
        api_base_url=base,
        headless_consent=True,
        introspect_url=f"{base}/oauth/introspect",
        revoke_url=f"{base}/oauth/revoke",
    )


async def check_connection(ctx: Context, connection: ConnectionHandle) -> None:
    """``GET /users/me``: the cheapest call every token may make. No retries: a test says
    what the API answers now, at once."""
    await ctx.http(connection, retries=0).request("GET", "/users/me")


OAUTH2 = Connection(
    key="calendlyOauth2Connection",
    label="OAuth 2.0 Connection",
    kind="oauth2",
    description="Calendly OAuth 2.0 (authorization code with PKCE; refresh tokens rotate).",
    endpoints=oauth_endpoints,
    test=check_connection,
    inputs=(
        Input(
            key="authorizeUrl",
            label="Authorize URL",
            required=True,
            default=LIVE_AUTHORIZE,
            comments="The OAuth 2.0 Authorization URL for the Calendly API",
        ),
        Input(
            key="clientId",
            label="Client ID",
            required=True,
            comments="Client Identifier of your app for the Calendly API",
        ),
        Input(
            key="clientSecret",
            label="Client Secret",
            type="password",
            required=True,
            comments="Client Secret of your app for the Calendly API",
        ),
        Input(
            key="scopes",
            label="Scopes",
            default="default",
            example="default",
            comments="Set the desired scopes.",
        ),
        Input(
            key="tokenUrl",
            label="Token URL",
            required=True,
            default=LIVE_TOKEN,
            comments="The OAuth 2.0 Token URL for the Calendly API",
        ),
        _LIVE,
        _SANDBOX,
    ),
)

PERSONAL_TOKEN = Connection(
    key="calendlyPersonalAccessToken",
    label="Personal Access Token",
    kind="api_key",
    description="A Calendly personal access token (Integrations > API & Webhooks).",
    endpoints=oauth_endpoints,  # it has no OAuth server: only the API base is used
    token_input="apiKey",  # noqa: S106 - the input's key, not a secret
    test=check_connection,
    inputs=(
        Input(key="apiKey", label="Personal Access Token", type="password", required=True),
        _LIVE,
        _SANDBOX,
    ),
)

CONNECTIONS = (OAUTH2, PERSONAL_TOKEN)
