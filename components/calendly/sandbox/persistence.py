"""The sandbox's state file: everything a restart would otherwise forget, as one JSON document.

Kept: the records (organization, users, event types, scheduled events, invitees, webhook
subscriptions with their signing keys, routing form submissions, activity log, ...), OAuth
clients, codes and tokens with their rotation, webhook deliveries, the plan, faults, and the
identifier generator's position (new identifiers must not repeat old ones). Not kept: the
request log and the rate-limit windows, which are diagnostics and a minute long.

Writes are atomic (a temporary file in the same folder, fsync, ``os.replace``, then fsync of
the folder) and the file is created with mode 0600: it holds tokens and signing keys.
"""

from __future__ import annotations

import fcntl
import json
import os
import tempfile
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from . import models as m
from .statecodec import (
    StateFormatError,
    check,
    decode,
    decode_rng,
    decode_table,
    encode,
    encode_rng,
    obj,
    path_of,
    require_keys,
)
from .tokens import AccessToken, AuthCode, RefreshToken, TokenRequest
from .webhooks import Delivery

if TYPE_CHECKING:
    from .host import PersistedHost

FORMAT = "relay-calendly-sandbox-state"
VERSION = 1
#: State tables and the record class each holds; every record is filed under its ``uuid``.
TABLES: dict[str, type[Any]] = {
    "organizations": m.Organization,
    "users": m.User,
    "memberships": m.Membership,
    "invitations": m.Invitation,
    "schedules": m.Schedule,
    "event_types": m.EventType,
    "events": m.ScheduledEvent,
    "invitees": m.Invitee,
    "no_shows": m.NoShow,
    "routing_forms": m.RoutingForm,
    "submissions": m.RoutingFormSubmission,
    "webhooks": m.WebhookSubscription,
    "activity": m.ActivityEntry,
    "shares": m.Share,
    "scheduling_links": m.SchedulingLink,
}
_PLANS = ("free", "standard", "enterprise")
#: (table, field, table it names): the records a field refers to must exist, or every request
#: touching them would fail; ``None`` (no reference) is allowed where the field allows it.
REFERENCES = (
    ("users", "org_uuid", "organizations"),
    ("memberships", "user_uuid", "users"),
    ("memberships", "org_uuid", "organizations"),
    ("invitations", "org_uuid", "organizations"),
    ("invitations", "user_uuid", "users"),
    ("schedules", "user_uuid", "users"),
    ("event_types", "org_uuid", "organizations"),
    ("event_types", "host_uuids", "users"),
    ("event_types", "schedule_uuid", "schedules"),
    ("events", "org_uuid", "organizations"),
    ("events", "event_type_uuid", "event_types"),
    ("events", "host_uuids", "users"),
    ("events", "invitee_uuids", "invitees"),
    ("invitees", "event_uuid", "events"),
    ("invitees", "no_show_uuid", "no_shows"),
    ("invitees", "routing_form_submission_uuid", "submissions"),
    ("no_shows", "invitee_uuid", "invitees"),
    ("routing_forms", "org_uuid", "organizations"),
    ("submissions", "form_uuid", "routing_forms"),
    ("webhooks", "org_uuid", "organizations"),
    ("webhooks", "user_uuid", "users"),
    ("webhooks", "creator_uuid", "users"),
    ("activity", "org_uuid", "organizations"),
    ("shares", "event_type_uuid", "event_types"),
    ("scheduling_links", "event_type_uuid", "event_types"),
)


def _check_references(tables: dict[str, dict[str, Any]]) -> None:
    for table, field, target in REFERENCES:
        for key, record in tables[table].items():
            value = getattr(record, field)
            names = value if isinstance(value, list) else [value]
            for name in names:
                if name is not None and name not in tables[target]:
                    where = path_of(path_of(path_of("$.state", table), key), field)
                    raise StateFormatError(f"{where}: names no record in $.state.{target}")


class SandboxStateError(Exception):
    """The state file cannot be read or written; the message is one line naming the file."""


def snapshot(sb: PersistedHost) -> dict[str, Any]:
    """The sandbox's whole mutable state as JSON-ready data."""
    st, tokens, faults = sb.state, sb.tokens, sb.faults
    state: dict[str, Any] = {
        name: {key: encode(rec) for key, rec in getattr(st, name).items()} for name in TABLES
    }
    state.update(
        owner_uuid=st.owner_uuid,
        org_uuid=st.org_uuid,
        calendar_errors=sorted(st.calendar_errors),
        ids=encode_rng(st.ids.rng),
    )
    return {
        "format": FORMAT,
        "version": VERSION,
        "base_url": sb.config.base_url,
        "plan": sb.plan,
        "state": state,
        "tokens": {
            "clients": dict(tokens.clients),
            "access": {k: encode(v) for k, v in tokens.access.items()},
            "refresh": {k: encode(v) for k, v in tokens.refresh.items()},
            "codes": {k: encode(v) for k, v in tokens.codes.items()},
            "requests": [encode(r) for r in tokens.requests],
        },
        "webhooks": {
            "signing_key": sb.webhook_signing_key,
            "deliveries": [encode(d) for d in sb.dispatcher.deliveries],
        },
        "faults": {**faults.summary(), "rng": encode_rng(faults.rng)},
    }


def _state_tables(sb: PersistedHost, raw: dict[str, Any]) -> None:
    path = "$.state"
    require_keys(raw, (*TABLES, "owner_uuid", "org_uuid", "calendar_errors", "ids"), path)
    tables = {
        name: decode_table(cls, raw[name], path_of(path, name), lambda r: str(r.uuid))
        for name, cls in TABLES.items()
    }
    _check_references(tables)
    owner = check(raw["owner_uuid"], str, path_of(path, "owner_uuid"))
    org = check(raw["org_uuid"], str, path_of(path, "org_uuid"))
    if owner not in tables["users"]:
        raise StateFormatError(f"{path}.owner_uuid: names no user in $.state.users")
    if org not in tables["organizations"]:
        raise StateFormatError(f"{path}.org_uuid: names no organization")
    broken = check(raw["calendar_errors"], set[str], path_of(path, "calendar_errors"))
    rng = decode_rng(raw["ids"], path_of(path, "ids"))
    st = sb.state
    for name, table in tables.items():
        getattr(st, name).clear()
        getattr(st, name).update(table)
    st.owner_uuid, st.org_uuid, st.calendar_errors = owner, org, broken
    st.ids.rng = rng


def _tokens(sb: PersistedHost, raw: dict[str, Any]) -> None:
    path = "$.tokens"
    require_keys(raw, ("clients", "access", "refresh", "codes", "requests"), path)
    clients = check(raw["clients"], dict[str, str], path_of(path, "clients"))
    access = decode_table(AccessToken, raw["access"], path_of(path, "access"), lambda r: r.token)
    refresh = decode_table(
        RefreshToken, raw["refresh"], path_of(path, "refresh"), lambda r: r.token
    )
    codes = decode_table(AuthCode, raw["codes"], path_of(path, "codes"), lambda r: r.code)
    requests = check(raw["requests"], list[Any], path_of(path, "requests"))
    decoded = [
        decode(TokenRequest, r, path_of(path_of(path, "requests"), i))
        for i, r in enumerate(requests)
    ]
    for name, table in (("access", access), ("refresh", refresh), ("codes", codes)):
        for key, record in table.items():
            if record.user_uuid not in sb.state.users:
                where = path_of(path_of(path_of(path, name), key), "user_uuid")
                raise StateFormatError(f"{where}: names no record in $.state.users")
    tokens = sb.tokens
    tokens.clients, tokens.access, tokens.refresh = clients, access, refresh
    tokens.codes, tokens.requests = codes, decoded


def _webhooks(sb: PersistedHost, raw: dict[str, Any]) -> None:
    path = "$.webhooks"
    require_keys(raw, ("signing_key", "deliveries"), path)
    key = check(raw["signing_key"], str, path_of(path, "signing_key"))
    items = check(raw["deliveries"], list[Any], path_of(path, "deliveries"))
    deliveries = [
        decode(Delivery, d, path_of(path_of(path, "deliveries"), i)) for i, d in enumerate(items)
    ]
    if len({d.id for d in deliveries}) != len(deliveries):
        raise StateFormatError(f"{path}.deliveries: two deliveries share an id")
    sb.webhook_signing_key = key
    sb.dispatcher.restore(deliveries, key)


def _faults(sb: PersistedHost, raw: dict[str, Any]) -> None:
    path = "$.faults"
    require_keys(raw, ("error_rate_429", "error_rate_5xx", "latency", "rng"), path)
    values = [check(raw[k], float, path_of(path, k)) for k in ("error_rate_429", "error_rate_5xx")]
    latency = check(raw["latency"], float, path_of(path, "latency"))
    rng = decode_rng(raw["rng"], path_of(path, "rng"))
    try:
        sb.faults.configure(values[0], values[1], latency)
    except ValueError as exc:
        raise StateFormatError(f"{path}: {exc}") from None
    sb.faults.rng = rng


def restore(sb: PersistedHost, data: Any) -> None:
    """Replace ``sb``'s state by the document ``data``; :class:`StateFormatError` names the
    first value that does not fit (the sandbox is then not to be used)."""
    doc = obj(data, "$")
    if doc.get("format") != FORMAT:
        raise StateFormatError(f"$.format: must be {FORMAT!r} (not a sandbox state file)")
    if doc.get("version") != VERSION:
        raise StateFormatError(f"$.version: must be {VERSION}")
    require_keys(doc, ("plan", "state", "tokens", "webhooks", "faults"), "$")
    plan = doc["plan"]
    if plan not in _PLANS:
        raise StateFormatError("$.plan: must be free, standard or enterprise")
    _state_tables(sb, obj(doc["state"], "$.state"))
    _tokens(sb, obj(doc["tokens"], "$.tokens"))
    _webhooks(sb, obj(doc["webhooks"], "$.webhooks"))
    _faults(sb, obj(doc["faults"], "$.faults"))
    sb.plan = plan


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


class StateFile:
    """One state file on disk, held by one sandbox at a time (``lock``/``close``); ``write``
    skips the disk when the text has not changed."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._last: str | None = None
        self._lock: IO[bytes] | None = None

    def lock(self) -> None:
        """Hold the file alone: two sandboxes on one file would each overwrite the other's
        changes. The lock is on a ``.lock`` file beside it, which the atomic rename leaves be."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        try:
            handle = open(lock_path, "ab")  # noqa: SIM115 - held open until close()
        except OSError as exc:
            raise self._error(f"cannot be locked ({exc.strerror or type(exc).__name__})") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise self._error("is in use by another sandbox") from None
        self._lock = handle

    def close(self) -> None:
        """Let another sandbox use the file."""
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _error(self, reason: str) -> SandboxStateError:
        return SandboxStateError(f"sandbox state file {self.path}: {reason}")

    def read(self) -> Any | None:
        """The parsed document, or ``None`` when the file does not exist yet."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise self._error(f"cannot be read ({exc.strerror or type(exc).__name__})") from None
        if not raw.strip():
            raise self._error("is empty (delete it to start afresh)")
        try:
            text = raw.decode("utf-8")
            data = json.loads(text, parse_constant=_reject_constant)
        except UnicodeDecodeError:
            raise self._error("is not UTF-8 text") from None
        except RecursionError:
            raise self._error("is nested too deeply to be a state file") from None
        except ValueError as exc:
            reason = str(exc).splitlines()[0][:200]
            raise self._error(f"is not valid JSON ({reason})") from None
        self._last = text
        return data

    def load_into(self, sb: PersistedHost, data: Any) -> None:
        """Restore ``sb`` from ``data`` (what :meth:`read` returned), naming the file on error."""
        try:
            restore(sb, data)
        except StateFormatError as exc:
            raise self._error(str(exc)) from None
        except RecursionError:
            raise self._error("is nested too deeply to be a state file") from None

    def write(self, data: dict[str, Any]) -> bool:
        """Write ``data`` atomically and durably; ``False`` when nothing changed."""
        text = json.dumps(data, separators=(",", ":"), allow_nan=False)
        if text == self._last:
            return False
        folder = self.path.parent
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=folder)
        except OSError as exc:
            raise self._error(f"cannot be written ({exc.strerror or type(exc).__name__})") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:  # mkstemp creates it 0600
                fh.write(text)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            _fsync_folder(folder)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise self._error(f"cannot be written ({exc.strerror or type(exc).__name__})") from None
        self._last = text
        return True


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (on systems whose folders can be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
