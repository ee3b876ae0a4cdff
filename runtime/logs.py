"""Structured logs (structlog): the process's log configuration and the runtime's logger.

Nothing is configured at import: the ``relay`` command and the server processes call
``configure_logging``, which sends events to stderr with secret-named keys scrubbed. Each
``Runtime`` logs through a ``RedactingLogger``, which scrubs the secrets that runtime has seen
before an event leaves it.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any, TextIO, cast

from runtime.errors import ConfigurationError
from runtime.redaction import Redactor

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, MutableMapping

    from structlog.typing import FilteringBoundLogger


#: Knows no secret values: redacts by key name only, the same in every process.
_NAMES_ONLY = Redactor()


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: scrub the values of secret-named keys (a runtime's own logger has
    already scrubbed the secrets that runtime has seen)."""
    cleaned: MutableMapping[str, Any] = _NAMES_ONLY.value(dict(event))
    return cleaned


LEVELS = ("debug", "info", "warning", "error", "critical")
FORMATS = ("console", "json")


def settings_from_env(environ: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """``(level, json)`` from ``RELAY_LOG_LEVEL`` and ``RELAY_LOG_FORMAT``; a value that is not
    one of the choices is a ``ConfigurationError`` naming the variable."""
    env = os.environ if environ is None else environ
    chosen = []
    for var, default, choices in (
        ("RELAY_LOG_LEVEL", "warning", LEVELS),
        ("RELAY_LOG_FORMAT", "console", FORMATS),
    ):
        raw = env.get(var) or default
        value = raw.strip().lower()
        if value not in choices:
            raise ConfigurationError(f"{var}={raw!r}: must be one of {', '.join(choices)}")
        chosen.append(value)
    return chosen[0], chosen[1] == "json"


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of writing: a stream captured when
    logging was configured (a test runner's, a replaced one) may be closed by the time a log
    line is written, and writing to it would fail the caller."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def configure_logging(level: str = "warning", *, json: bool = False) -> None:
    """Send relay's logs to stderr at ``level`` (one of ``LEVELS``), as console lines or JSON."""
    if level.lower() not in LEVELS:
        raise ConfigurationError(f"unknown log level {level!r}: one of {', '.join(LEVELS)}")
    import structlog  # here, not at import: ~0.1 s (its console renderer loads rich)

    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        # PrintLogger only calls write and flush, all _CurrentStderr has
        logger_factory=structlog.PrintLoggerFactory(file=cast("TextIO", _CurrentStderr())),
        cache_logger_on_first_use=False,
    )


def configure_from_env() -> None:
    """Configure from ``RELAY_LOG_LEVEL`` / ``RELAY_LOG_FORMAT`` (see ``settings_from_env``)."""
    level, as_json = settings_from_env()
    configure_logging(level, json=as_json)


def _scrubbed(value: Any, text: Callable[[str], str]) -> Any:
    """``value`` with ``text`` applied to every string in it (keys are left to the process's
    log pipeline, which redacts secret-named ones)."""
    if isinstance(value, str):
        return text(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v, text) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, text) for v in value]
    if isinstance(value, tuple):
        return tuple(_scrubbed(v, text) for v in value)
    return value


class RedactingLogger:
    """A structlog logger that scrubs ``redactor``'s secrets from each event (message, bound
    values and fields) before handing it to ``inner``, the process's logger: secrets the
    redactor learns after a value was bound are scrubbed too. Values under secret-named keys
    are the process's log pipeline's to redact (``redact``)."""

    __slots__ = ("_context", "_inner", "_redactor")

    def __init__(
        self, inner: Any, redactor: Redactor, context: Mapping[str, Any] | None = None
    ) -> None:
        self._inner = inner
        self._redactor = redactor
        self._context: dict[str, Any] = dict(context or {})

    def bind(self, **values: Any) -> RedactingLogger:
        """A logger with ``values`` added to every event."""
        return RedactingLogger(self._inner, self._redactor, {**self._context, **values})

    def new(self, **values: Any) -> RedactingLogger:
        """A logger with only ``values`` bound."""
        return RedactingLogger(self._inner.new(), self._redactor, values)

    def unbind(self, *keys: str) -> RedactingLogger:
        """A logger without ``keys`` (each must be bound)."""
        context = dict(self._context)
        for key in keys:
            del context[key]
        return RedactingLogger(self._inner, self._redactor, context)

    def try_unbind(self, *keys: str) -> RedactingLogger:
        """A logger without those of ``keys`` that are bound."""
        context = {k: v for k, v in self._context.items() if k not in keys}
        return RedactingLogger(self._inner, self._redactor, context)

    def _fields(self, event: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> tuple[Any, Any]:
        if args and isinstance(event, str):
            event = event % args
        text = self._redactor.text
        if isinstance(event, str):
            event = text(event)
        return event, {
            key: _scrubbed(value, text) for key, value in {**self._context, **kw}.items()
        }

    def _emit(self, method: str, event: Any, args: tuple[Any, ...], kw: dict[str, Any]) -> Any:
        event, fields = self._fields(event, args, kw)
        return getattr(self._inner, method)(event, **fields)

    async def _aemit(
        self, method: str, event: Any, args: tuple[Any, ...], kw: dict[str, Any]
    ) -> Any:
        event, fields = self._fields(event, args, kw)
        return await getattr(self._inner, method)(event, **fields)

    def debug(self, event: Any = None, *args: Any, **kw: Any) -> Any:
        """Log at debug."""
        return self._emit("debug", event, args, kw)

    def info(self, event: Any = None, *args: Any, **kw: Any) -> Any:
        """Log at info."""
        return self._emit("info", event, args, kw)

    def warning(self, event: Any = None, *args: Any, **kw: Any) -> Any:
        """Log at warning."""
        return self._emit("warning", event, args, kw)

    warn = warning

    def error(self, event: Any = None, *args: Any, **kw: Any) -> Any:
        """Log at error."""
        return self._emit("error", event, args, kw)

    err = error

    def critical(self, event: Any = None, *args: Any, **kw: Any) -> Any:
        """Log at critical."""
        return self._emit("critical", event, args, kw)

    fatal = critical

    def exception(self, event: Any = None, *args: Any, **kw: Any) -> Any:
        """Log at error with the exception being handled."""
        return self._emit("exception", event, args, kw)

    def msg(self, event: Any = None, *args: Any, **kw: Any) -> Any:
        """Log without a level."""
        return self._emit("msg", event, args, kw)

    def log(self, level: int, event: Any = None, *args: Any, **kw: Any) -> Any:
        """Log at ``level`` (a ``logging`` level number)."""
        event, fields = self._fields(event, args, kw)
        return self._inner.log(level, event, **fields)

    async def adebug(self, event: Any = None, *args: Any, **kw: Any) -> Any:
        """Log at debug (async)."""
        return await self._aemit("adebug", event, args, kw)

    async def ainfo(self, event: Any = None, *args: Any, **kw: Any) -> Any:
        """Log at info (async)."""
        return await self._aemit("ainfo", event, args, kw)

    async def awarning(self, event: Any = None, *args: Any, **kw: Any) -> Any:
        """Log at warning (async)."""
        return await self._aemit("awarning", event, args, kw)

    awarn = awarning

    async def aerror(self, event: Any = None, *args: Any, **kw: Any) -> Any:
        """Log at error (async)."""
        return await self._aemit("aerror", event, args, kw)

    async def acritical(self, event: Any = None, *args: Any, **kw: Any) -> Any:
        """Log at critical (async)."""
        return await self._aemit("acritical", event, args, kw)

    afatal = acritical

    async def aexception(self, event: Any = None, *args: Any, **kw: Any) -> Any:
        """Log at error with the exception being handled (async)."""
        return await self._aemit("aexception", event, args, kw)

    async def amsg(self, event: Any = None, *args: Any, **kw: Any) -> Any:
        """Log without a level (async)."""
        return await self._aemit("amsg", event, args, kw)

    def is_enabled_for(self, level: int) -> bool:
        """Whether ``inner`` logs events at ``level``."""
        return bool(self._inner.is_enabled_for(level))

    def get_effective_level(self) -> int:
        """``inner``'s level."""
        return int(self._inner.get_effective_level())

    def __repr__(self) -> str:
        return f"<redacting logger {self._context!r}>"


def runtime_logger(inner: Any, redactor: Redactor) -> FilteringBoundLogger:
    """``inner`` (the process's logger) as a runtime logs through it: scrubbed by
    ``redactor``."""
    return cast("FilteringBoundLogger", RedactingLogger(inner, redactor))


class BoundOnUse:
    """``parent.bind(**values)``, done when the logger is first used: a step's logger is made
    for every step, and most steps never log. Behaves as the bound logger it stands for."""

    __slots__ = ("_bound", "_parent", "_values")

    def __init__(self, parent: Any, **values: Any) -> None:
        self._parent = parent
        self._values = values
        self._bound: Any = None

    def __getattr__(self, name: str) -> Any:
        bound = self._bound
        if bound is None:
            bound = self._bound = self._parent.bind(**self._values)
        return getattr(bound, name)

    def __repr__(self) -> str:
        return f"<logger bound on use: {self._values!r}>"
