"""Management API tokens: made here, shown once, kept only as a hash, revoked by name or id.

A token is ``relay_`` and 43 URL-safe characters (32 random bytes). The store keeps its
SHA-256: a token is a random 256-bit secret, not a password a person chose, so no dictionary
or brute-force search can reverse the hash and a slow password hash (bcrypt, argon2) would buy
nothing but latency on every request. Looking one up is a unique-index equality on the hash.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import TYPE_CHECKING, Any

from attrs import frozen
from sqlalchemy import or_, select, update

from runtime.errors import ConfigurationError, NotFound
from runtime.store.base import StoreBase
from runtime.store.db import writer
from runtime.store.tables import api_tokens
from runtime.store.values import new_id, now

if TYPE_CHECKING:
    from collections.abc import Mapping

#: The scopes, each allowing what the ones before it allow.
SCOPES = ("read", "operate", "admin")
#: What every token starts with: a token pasted into a log or a chat is recognisable.
PREFIX = "relay_"
#: A token's ``last_used_at`` is written at most this often (seconds), not on every request.
TOUCH_EVERY = 60.0


def token_hash(token: str) -> str:
    """The SHA-256 (hex) the store keeps of ``token`` (see the module docstring for why)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def scope_allows(held: str, needed: str) -> bool:
    """Whether a token of scope ``held`` may do what needs ``needed``."""
    return held in SCOPES and SCOPES.index(held) >= SCOPES.index(needed)


@frozen
class ApiToken:
    """A stored API token, without its secret (which the store never had)."""

    id: str
    name: str
    scope: str
    created_at: float
    last_used_at: float | None
    revoked_at: float | None
    #: when the token last signed out of the dashboard (its sessions begun before are over)
    signed_out_at: float | None = None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> ApiToken:
        """From an ``api_tokens`` row (its hash left out)."""
        return cls(
            id=row["id"],
            name=row["name"],
            scope=row["scope"],
            created_at=row["created_at"],
            last_used_at=row["last_used_at"],
            revoked_at=row["revoked_at"],
            signed_out_at=row.get("signed_out_at"),
        )

    def as_dict(self) -> dict[str, Any]:
        """What ``relay tokens list --json`` prints of it."""
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope,
            "created_at": self.created_at,
            "last_used_at": self.last_used_at,
            "revoked_at": self.revoked_at,
        }


class ApiTokenQueries(StoreBase):
    """The ``Store``'s API token methods."""

    async def create_api_token(self, name: str, scope: str) -> tuple[ApiToken, str]:
        """A new token named ``name`` with ``scope``: its record and its secret, which is not
        stored and cannot be shown again. A name may not be that of a valid token (revoke by
        name must mean one token)."""
        if scope not in SCOPES:
            raise ConfigurationError(f"scope {scope!r}: must be one of {', '.join(SCOPES)}")
        name = name.strip()
        if not name or len(name) > 200:
            raise ConfigurationError("a token's name must be 1 to 200 characters")
        secret = PREFIX + secrets.token_urlsafe(32)
        c = api_tokens.c
        values = {
            "id": new_id(),
            "name": name,
            "scope": scope,
            "token_hash": token_hash(secret),
            "created_at": now(),
            "last_used_at": None,
            "revoked_at": None,
        }
        async with writer(self.engine).begin() as conn:
            taken = select(c.id).where(c.name == name, c.revoked_at.is_(None))
            if (await conn.execute(taken)).first() is not None:
                raise ConfigurationError(
                    f"a token named {name!r} exists: revoke it first or choose another name"
                )
            await conn.execute(api_tokens.insert().values(values))
        return ApiToken.from_row(values), secret

    async def list_api_tokens(self) -> list[ApiToken]:
        """Every token, revoked ones too, oldest first."""
        query = select(api_tokens).order_by(api_tokens.c.created_at, api_tokens.c.id)
        async with self.engine.connect() as conn:
            return [ApiToken.from_row(r._mapping) for r in await conn.execute(query)]

    async def revoke_api_token(self, name_or_id: str) -> ApiToken:
        """Revoke the valid token with this id or name (``NotFound`` when there is none);
        returns it as revoked. A revoked token stays listed."""
        c = api_tokens.c
        t = now()
        async with writer(self.engine).begin() as conn:
            found = (
                await conn.execute(
                    update(api_tokens)
                    .where(or_(c.id == name_or_id, c.name == name_or_id), c.revoked_at.is_(None))
                    .values(revoked_at=t)
                    .returning(*api_tokens.c)
                )
            ).first()
        if found is None:
            raise NotFound("API token", name_or_id)
        return ApiToken.from_row(found._mapping)

    async def sign_out_api_token(self, token_id: str, at: float) -> None:
        """End the dashboard sessions of token ``token_id`` begun at ``at`` or before."""
        async with writer(self.engine).begin() as conn:
            await conn.execute(
                update(api_tokens).where(api_tokens.c.id == token_id).values(signed_out_at=at)
            )

    async def api_token_for(self, secret: str) -> ApiToken | None:
        """The valid (not revoked) token whose secret is ``secret``, or ``None``; notes when
        it was used (at most every ``TOUCH_EVERY`` seconds)."""
        c = api_tokens.c
        digest = token_hash(secret)
        async with self.engine.connect() as conn:
            row = (
                await conn.execute(
                    select(api_tokens).where(c.token_hash == digest, c.revoked_at.is_(None))
                )
            ).first()
        if row is None:
            return None
        token = ApiToken.from_row(row._mapping)
        t = now()
        if token.last_used_at is None or t - token.last_used_at >= TOUCH_EVERY:
            async with writer(self.engine).begin() as conn:
                await conn.execute(
                    update(api_tokens).where(c.id == token.id).values(last_used_at=t)
                )
        return token
