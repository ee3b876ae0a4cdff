"""relay's exceptions: one shallow tree, named for what the caller does next.

::

    RelayError
    ├── ConfigurationError          fix the setup (declaration, plugin, config file), then retry
    │   └── PluginError             a plugin failed to load; names the plugin
    ├── FlowError                   the flow document is invalid; carries every Problem
    ├── InputValidationError        values do not match a schema; carries every Problem (JSON path)
    ├── ExpressionError             a ${{ }} expression failed to compile or evaluate
    ├── ReconnectRequired           the connection's grant is gone; the user must connect again
    ├── ApiError                    a remote API answered with an error (status, title, message...)
    │   ├── RetriableApiError       429, 5xx or network: trying again later may succeed
    │   └── FatalApiError           any other 4xx: trying again will not help
    ├── WebhookRejected             a webhook delivery failed verification (status to answer)
    ├── NotFound                    a stored instance, execution or connection does not exist
    └── StepFailed                  a flow step failed after its retries; wraps the cause

Foreign exceptions are translated to these at one boundary each, chained with ``from exc``.
Messages never contain secrets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from attrs import frozen

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence


@frozen
class Problem:
    """One finding: where (file:line:col or a JSON path) and what."""

    message: str
    path: str = ""
    file: str = ""
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.file:
            where = f"{self.file}:{self.line}:{self.column}"
            return f"{where}: {self.message}"
        if self.path:
            return f"{self.path}: {self.message}"
        return self.message


class RelayError(Exception):
    """The root of every error relay raises on purpose."""


class ConfigurationError(RelayError):
    """The setup is wrong: a declaration, a plugin, or a configuration value."""


class PluginError(ConfigurationError):
    """A plugin could not be loaded or registered something invalid."""

    def __init__(self, plugin: str, message: str) -> None:
        super().__init__(f"plugin {plugin!r}: {message}")
        self.plugin = plugin
        #: What went wrong, without the plugin's name.
        self.reason = message


class _ProblemsError(RelayError):
    """Base for errors that carry several problems at once."""

    def __init__(self, summary: str, problems: Iterable[Problem]) -> None:
        self.problems: tuple[Problem, ...] = tuple(problems)
        lines = [summary, *(f"  {p}" for p in self.problems)]
        super().__init__("\n".join(lines))
        self.summary = summary


class FlowError(_ProblemsError):
    """A flow document failed to load or to pass the static checks."""


class InputValidationError(_ProblemsError):
    """Input values failed their JSON Schema; every failure is listed with its path."""


class ExpressionError(RelayError):
    """A ``${{ }}`` expression could not be compiled or evaluated."""


class ReconnectRequired(RelayError):
    """The connection's authorization is no longer valid; connect it again."""

    def __init__(self, connection: str, reason: str) -> None:
        super().__init__(f"reconnect this connection ({connection}): {reason}")
        self.connection = connection
        self.reason = reason


class ApiError(RelayError):
    """A remote API answered with an error."""

    retriable = False

    def __init__(
        self,
        status: int,
        title: str,
        message: str,
        details: Sequence[dict[str, Any]] = (),
        *,
        retry_after: float | None = None,
    ) -> None:
        text = f"{status} {title}: {message}" if title else f"{status}: {message}"
        for detail in details:
            param = detail.get("parameter")
            text += f"\n  {param}: {detail.get('message')}" if param else f"\n  {detail}"
        super().__init__(text)
        self.status = status
        self.title = title
        self.message = message
        self.details = list(details)
        self.retry_after = retry_after

    def as_dict(self) -> dict[str, Any]:
        """The error as recorded in execution results."""
        return {
            "status": self.status,
            "title": self.title,
            "message": self.message,
            "details": self.details,
        }


class RetriableApiError(ApiError):
    """Rate limited, a server error or a network failure: a later attempt may succeed."""

    retriable = True


class FatalApiError(ApiError):
    """A client error (4xx other than 429): repeating the request will not help."""


class WebhookRejected(RelayError):
    """A webhook delivery did not pass verification; answer it with ``status``."""

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class NotFound(RelayError):
    """A stored instance, execution or connection does not exist (or no longer does)."""

    def __init__(self, kind: str, name: str) -> None:
        super().__init__(f"no {kind} named {name!r}")
        self.kind = kind
        self.name = name


class StepFailed(RelayError):
    """A flow step failed after all its attempts."""

    def __init__(self, step: str, cause: BaseException) -> None:
        super().__init__(f"step {step!r} failed: {cause}")
        self.step = step
        self.cause = cause
