"""relay's runtime: the public API for flow runners, component authors and embedders.

Components import from here only (never from submodules).
"""

from typing import TYPE_CHECKING

from runtime.api import Runtime
from runtime.clock import Clock, ManualClock
from runtime.connections import ConnectionHandle, InMemoryTokenStore, TokenStore
from runtime.context import Context, State
from runtime.declarations import (
    NO_DEFAULT,
    Action,
    Choice,
    Component,
    Connection,
    DataSource,
    Input,
    OAuth2Endpoints,
    PollResult,
    Trigger,
    TriggerEvent,
    WebhookRequest,
)
from runtime.errors import (
    ApiError,
    ConfigurationError,
    ExpressionError,
    FatalApiError,
    FlowError,
    InputValidationError,
    PluginError,
    Problem,
    ReconnectRequired,
    RelayError,
    RetriableApiError,
    StepFailed,
    WebhookRejected,
)
from runtime.flows import Flow
from runtime.hookspecs import hookimpl
from runtime.http import HttpClient, Response
from runtime.oauth import Token
from runtime.results import ExecutionResult, StepRecord

if TYPE_CHECKING:
    from runtime.executors.inprocess import InProcessExecutor
    from runtime.server import create_app
    from runtime.service import Service
    from runtime.store import Store, open_store

__all__ = [  # noqa: RUF022 - plain sorted(), checked by tests/test_meta.py
    "Action",
    "ApiError",
    "Choice",
    "Clock",
    "Component",
    "ConfigurationError",
    "Connection",
    "ConnectionHandle",
    "Context",
    "DataSource",
    "ExecutionResult",
    "ExpressionError",
    "FatalApiError",
    "Flow",
    "FlowError",
    "HttpClient",
    "InMemoryTokenStore",
    "InProcessExecutor",
    "Input",
    "InputValidationError",
    "ManualClock",
    "NO_DEFAULT",
    "OAuth2Endpoints",
    "PluginError",
    "PollResult",
    "Problem",
    "ReconnectRequired",
    "Service",
    "RelayError",
    "Response",
    "RetriableApiError",
    "Runtime",
    "State",
    "StepFailed",
    "StepRecord",
    "Store",
    "Token",
    "TokenStore",
    "Trigger",
    "TriggerEvent",
    "WebhookRejected",
    "WebhookRequest",
    "create_app",
    "hookimpl",
    "open_store",
]

#: Service-side names are imported on first use: they pull in SQLAlchemy and the server, which
#: commands like ``relay validate`` never need.
_LAZY = {
    "InProcessExecutor": "runtime.executors.inprocess",
    "Service": "runtime.service",
    "Store": "runtime.store",
    "create_app": "runtime.server",
    "open_store": "runtime.store",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'runtime' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module), name)
