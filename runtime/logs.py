"""Structured logs (structlog) on stderr, with secrets scrubbed from every event.

Every secret relay learns (connection passwords, tokens, secret config values) is added to
``SECRETS``; the ``redact`` processor removes them, and values under secret-named keys, from
each log event before it is rendered.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from runtime.redaction import Redactor

#: The process-wide set of known secrets; the engine adds to it, the log pipeline reads it.
SECRETS = Redactor()


def redact(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: scrub known secrets and secret-named keys."""
    cleaned: MutableMapping[str, Any] = SECRETS.value(dict(event))
    return cleaned


def configure_logging(level: str = "warning", *, json: bool = False) -> None:
    """Send relay's logs to stderr at ``level``, as console lines or JSON."""
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
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


configure_logging(
    os.environ.get("RELAY_LOG_LEVEL", "warning"), json=os.environ.get("RELAY_LOG_FORMAT") == "json"
)
