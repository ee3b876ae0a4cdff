"""A fixed bearer token as the auth of relay's ``HttpClient``, for tests of the HTTP layer."""

from __future__ import annotations


class StaticToken:
    """Always the same access token; a refresh gives it again."""

    def __init__(self, token: str) -> None:
        self.token = token

    async def access_token(self) -> str:
        """The token."""
        return self.token

    async def refreshed(self, stale: str) -> str:
        """The token again (it never goes stale)."""
        return self.token
