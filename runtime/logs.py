"""Structured logs (structlog) on stderr, with secrets scrubbed from every event.

Every secret relay learns (connection passwords, tokens, secret config values) is added to
``SECRETS``; the ``redact`` processor removes them, and values under secret-named keys, from
each log event before it is rendered.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO, cast

import structlog

from runtime.errors import ConfigurationError
from runtime.redaction import Redactor

#: The process-wide set of known secrets; the engine adds to it, the log pipeline reads it.
SECRETS = Redactor()


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: scrub known secrets and secret-named keys."""
    cleaned: MutableMapping[str, Any] = SECRETS.value(dict(event))
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
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, _CurrentStderr())),
        cache_logger_on_first_use=False,
    )


def configure_from_env() -> None:
    """Configure from ``RELAY_LOG_LEVEL`` / ``RELAY_LOG_FORMAT`` (see ``settings_from_env``)."""
    level, as_json = settings_from_env()
    configure_logging(level, json=as_json)


try:
    configure_from_env()
except ConfigurationError:  # the CLI reports it (``relay`` checks before running anything)
    configure_logging()


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
