"""What the ``relay`` commands share: error handling, output consoles, reading config and
payload files, and opening the configured store (alone or as a service)."""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from rich.console import Console

from runtime.cli.state import current_state, new_runtime
from runtime.cli.values import strict_json
from runtime.errors import ConfigurationError, FlowError, InputValidationError, RelayError

if TYPE_CHECKING:  # the store (SQLAlchemy, Alembic) loads only for the commands that use it
    from runtime.api import Runtime
    from runtime.service import Service
    from runtime.store import Store

F = TypeVar("F", bound=Callable[..., Any])
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def handle_errors(function: F) -> F:
    """Turn relay errors (and anything unexpected) into a message and exit status."""

    @wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except FlowError as exc:
            for problem in exc.problems:
                err.print(str(problem), markup=False)
            err.print(f"{len(exc.problems)} problem(s)", markup=False)
            sys.exit(1)
        except RelayError as exc:
            err.print(f"error: {exc}", markup=False)
            sys.exit(1)
        except (OSError, ValueError) as exc:
            err.print(f"error: {exc}", markup=False)
            sys.exit(1)
        except KeyboardInterrupt:
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise  # click's own: usage errors, ``ctx.exit()``, Ctrl-C at a prompt
        except Exception as exc:  # a defect: one line for the user, the traceback at debug
            import structlog

            current_state().logging_ready()
            structlog.get_logger("relay.cli").debug(
                "unexpected error", exception="".join(traceback.format_exception(exc))
            )
            err.print(
                f"error: unexpected {type(exc).__name__}: {current_state().scrub(str(exc))} "
                "(RELAY_LOG_LEVEL=debug logs the traceback)",
                markup=False,
            )
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


def run_async(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run ``coro`` to its end on a new event loop."""
    import asyncio  # here: the commands that only read flows never start a loop

    return asyncio.run(coro)


def emit_json(data: Any) -> None:
    """``data`` as strict JSON on stdout (see ``strict_json``)."""
    click.echo(strict_json(data))


def when(timestamp: float | None) -> str:
    """A stored timestamp as UTC date and time (``-`` for none)."""
    if not timestamp:
        return "-"
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S")


def read_data_file(path: str | None, what: str, *, mapping: bool = True) -> Any:
    """A YAML or JSON file (config, payload): problems name file, line and column. A config
    file (``mapping``) must hold a mapping at its top level (or nothing)."""
    if path is None:
        return None
    from runtime.flows.yamlsource import parse_yaml

    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise ConfigurationError(f"{path}: cannot read the {what} file: {reason}") from None
    doc = parse_yaml(text, path)
    if doc.problems:
        raise FlowError(f"{path}: invalid {what} file", doc.problems)
    if mapping and doc.data is not None and not isinstance(doc.data, dict):
        raise ConfigurationError(
            f"{path}: the {what} file must be a mapping of KEY: value at its top level, "
            f"not {_kind_of(doc.data)}"
        )
    return doc.data


@contextlib.contextmanager
def values_from(path: str | None) -> Iterator[None]:
    """Config or field values that fail their checks name the file they came from."""
    try:
        yield
    except InputValidationError as exc:
        if path is None or exc.summary.startswith(f"{path}:"):
            raise
        raise InputValidationError(f"{path}: {exc.summary}", exc.problems) from None


def _kind_of(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"


def uses_stored_connection(values: Any) -> bool:
    """Whether a config names a stored connection (``{use: NAME}``) anywhere at its top level."""
    return isinstance(values, dict) and any(
        isinstance(v, dict) and "use" in v for v in values.values()
    )


@contextlib.asynccontextmanager
async def open_configured_store() -> AsyncIterator[Store]:
    """The store ``RELAY_DATABASE_URL`` (or ``$RELAY_HOME/relay.db``) names, closed after."""
    from runtime.store import open_store

    store = await open_store(os.environ.get("RELAY_DATABASE_URL"))
    try:
        yield store
    finally:
        await store.close()


@contextlib.asynccontextmanager
async def store_bound(runtime: Runtime) -> AsyncIterator[Runtime]:
    """``runtime`` with its named connections and tokens from the configured store."""
    async with open_configured_store() as store:
        bound = runtime.using(connection_source=store, token_store=store.tokens)
        try:
            yield bound
        finally:
            await bound.aclose()


@contextlib.asynccontextmanager
async def service(base_url: str | None = None) -> AsyncIterator[Service]:
    """A Service over the configured store and the command's runtime."""
    from runtime.service import Service

    runtime = new_runtime()
    async with open_configured_store() as store:
        relay = Service(runtime, store, base_url=base_url)
        try:
            yield relay
        finally:
            if relay.runtime is not runtime:
                await relay.runtime.aclose()
            await runtime.aclose()
