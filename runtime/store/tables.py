"""The store's schema, in SQLAlchemy Core: one ``MetaData`` for SQLite and PostgreSQL alike.

Conventions, chosen so both engines behave the same:

- times are UNIX seconds as ``Double`` (the clock the rest of relay uses, see ``runtime.clock``);
- JSON documents are ``Text`` holding ``json.dumps`` output (no engine-specific JSON type, so a
  value reads back exactly as written on either engine);
- raw bytes (webhook bodies) and ciphertext are ``LargeBinary``;
- a column whose ``info`` has ``encrypted=True`` holds a Fernet token: ``Keyring.rotate``
  finds the columns to re-encrypt through that flag, so a new secret column is rotated by
  marking it, not by editing the rotation code.

The Alembic migrations in ``migrations/versions`` are the source of truth for the database;
this module must describe the same thing (a test compares them).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Double,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

#: Named constraints, so migrations can refer to them identically on both engines.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

ENCRYPTED = {"encrypted": True}

instances = Table(
    "instances",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("flow_name", String(200), nullable=False),
    Column("flow_path", Text, nullable=False),
    Column("flow_text", Text, nullable=False),
    Column("flow_version", Integer, nullable=False),
    # the whole resolved config (it holds client secrets), encrypted as one JSON document
    Column("config", LargeBinary, nullable=False, info=ENCRYPTED),
    # the unguessable path segment of the webhook URL: looked up on every delivery
    Column("webhook_token", String(200), nullable=False, unique=True),
    # what the triggers' deploy lifecycle returned (may hold webhook signing keys)
    Column("deploy_state", LargeBinary, nullable=False, info=ENCRYPTED),
    Column("created_at", Double, nullable=False),
    # the webhook URL given to the sender at deploy (NULL: deployed before it was recorded)
    Column("webhook_url", Text, nullable=True),
    # "running" | "paused": a paused instance's deliveries are recorded as held executions
    Column("status", String(20), nullable=False, server_default="running"),
    Column("paused_at", Double, nullable=True),
)

#: Every flow an instance was deployed with (deploy is version 1, each redeploy one more): the
#: text and config an execution of that version runs with, whatever the instance runs now.
flow_versions = Table(
    "flow_versions",
    metadata,
    Column("instance", String(200), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("flow_text", Text, nullable=False),
    # the config of that version (it holds client secrets), encrypted as instances.config is
    Column("config", LargeBinary, nullable=False, info=ENCRYPTED),
    Column("created_at", Double, nullable=False),
)

#: Named connections (``relay connect``): their field values, encrypted; tokens live in
#: ``tokens`` under ``connection:<name>``.
connections = Table(
    "connections",
    metadata,
    Column("name", String(200), primary_key=True),
    Column("component", String(200), nullable=False),
    Column("connection", String(200), nullable=False),
    Column("fields", LargeBinary, nullable=False, info=ENCRYPTED),
    Column("updated_at", Double, nullable=False),
)

tokens = Table(
    "tokens",
    metadata,
    Column("key", String(400), primary_key=True),
    Column("token", LargeBinary, nullable=False, info=ENCRYPTED),
    Column("updated_at", Double, nullable=False),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(400), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("expires_at", Double, nullable=False),
)

executions = Table(
    "executions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("instance", String(200), nullable=True),
    Column("status", String(20), nullable=False),
    Column("flow_text", Text, nullable=False),
    Column("flow_version", Integer, nullable=False),
    Column("payload", Text, nullable=False),
    Column("result", Text, nullable=True),
    # the execution-scoped state at the end of the run (the other scopes live in ``state``)
    Column("state", Text, nullable=True),
    Column("created_at", Double, nullable=False),
    Column("started_at", Double, nullable=True),
    Column("finished_at", Double, nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("replay_of", String(64), nullable=True),
    # a replay from a step: the earlier steps' outputs, reused instead of run again
    Column("reused_outputs", Text, nullable=True),
    # who runs it and until when: a lease past ``lease_until`` may be taken over
    Column("worker", String(200), nullable=True),
    Column("lease_until", Double, nullable=True),
    # a waiting execution (a long ``relay.sleep``, a retry's long backoff) is due then
    Column("wake_at", Double, nullable=True),
    # 1: cancel asked for while it runs; the run stops at its next checkpoint
    Column("cancel_requested", Integer, nullable=True),
    Index(None, "status", "lease_until"),
    Index(None, "instance", "created_at"),
    # one instance's executions of one status in the listing's keyset order
    Index(None, "instance", "status", "created_at", "id"),
    Index(None, "created_at"),
    Index(None, "status", "wake_at"),
)

#: Signed counts of finished executions by instance, final status and the clock hour they were
#: created in (``floor(created_at / 3600)``), appended by the database's triggers on
#: ``executions`` (migrations 0009, 0011) and folded into ``execution_tally_sums`` by
#: ``runtime.store.tallies``.
execution_tallies = Table(
    "execution_tallies",
    metadata,
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("instance", String(200), nullable=False),
    Column("status", String(20), nullable=False),
    Column("n", BigInteger, nullable=False),
    Column("hour", BigInteger, nullable=False, server_default="0"),
)

#: The folded tallies: one sum per instance, final status and hour (hour 0 holds the hours
#: older than those the overview draws, together).
execution_tally_sums = Table(
    "execution_tally_sums",
    metadata,
    Column("instance", String(200), primary_key=True),
    Column("status", String(20), primary_key=True),
    Column("hour", BigInteger, primary_key=True),
    Column("n", BigInteger, nullable=False),
)

#: A checkpoint per step of an unfinished execution (``runtime.checkpoints``): what a resumed
#: run continues from. The finish records every step in the execution's result and drops these.
execution_steps = Table(
    "execution_steps",
    metadata,
    Column("execution_id", String(64), primary_key=True),
    # the step's path in the flow (``loop[2].step``)
    Column("path", String(1000), primary_key=True),
    # the order the execution reached its checkpoints in
    Column("seq", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    # the claim (execution attempt) that wrote it
    Column("claim", Integer, nullable=False),
    # the checkpoint itself (outputs and state may hold secrets), encrypted
    Column("checkpoint", LargeBinary, nullable=False, info=ENCRYPTED),
    Column("created_at", Double, nullable=False),
)

deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("instance", String(200), nullable=False),
    # what makes two deliveries "the same" (e.g. the sender's delivery id, or a body hash)
    # ``None``: the delivery has no identity (it ran, and nothing is a duplicate of it), or its
    # key outlived the dedupe window (``RELAY_DEDUPE_WINDOW``) and was released
    Column("dedupe_key", String(400), nullable=True),
    Column("headers", Text, nullable=False),
    Column("body", LargeBinary, nullable=False),
    Column("received_at", Double, nullable=False),
    Column("execution_id", String(64), nullable=False, unique=True),
    # how often this delivery arrived (duplicates are counted here, not stored), and when last
    Column("times_seen", Integer, nullable=False, server_default="1"),
    Column("last_seen_at", Double, nullable=True),
    # the race-safety of duplicate detection rests on this constraint, not on a prior read
    UniqueConstraint("instance", "dedupe_key"),
    Index(None, "instance", "received_at"),
)

delivery_rejections = Table(
    "delivery_rejections",
    metadata,
    # rejected deliveries, counted per instance, reason and minute (never their bodies): a
    # flood of rejected posts adds one row a reason a minute, and each instance keeps at most
    # ``runtime.store.deliveries.REJECTIONS_KEPT`` rows
    Column("instance", String(200), primary_key=True),
    Column("minute", Double, primary_key=True),
    Column("reason", String(200), primary_key=True),
    Column("status", Integer, nullable=False),
    Column("count", Integer, nullable=False),
    Column("first_at", Double, nullable=False),
    Column("last_at", Double, nullable=False),
)

state = Table(
    "state",
    metadata,
    # "flow" | "cross_flow" | "integration"
    Column("scope", String(20), primary_key=True),
    # instance name (flow, cross_flow) or flow name (integration)
    Column("key", String(200), primary_key=True),
    Column("data", Text, nullable=False),
    Column("updated_at", Double, nullable=False),
)

cursors = Table(
    "cursors",
    metadata,
    Column("instance", String(200), primary_key=True),
    Column("cursor", Text, nullable=False),
    Column("updated_at", Double, nullable=False),
)


#: Management API tokens (``relay tokens``): only a hash of each secret is kept.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    # "read" | "operate" | "admin"
    Column("scope", String(20), nullable=False),
    # looked up on every authenticated request
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("created_at", Double, nullable=False),
    Column("last_used_at", Double, nullable=True),
    # NULL while the token is valid
    Column("revoked_at", Double, nullable=True),
    # the dashboard's sessions of this token begun before then are over (its sign-out)
    Column("signed_out_at", Double, nullable=True),
)


def encrypted_columns() -> list[tuple[Table, list[str]]]:
    """Every table with encrypted columns, and those columns' names."""
    out: list[tuple[Table, list[str]]] = []
    for table in metadata.sorted_tables:
        names = [c.name for c in table.columns if c.info.get("encrypted")]
        if names:
            out.append((table, names))
    return out
