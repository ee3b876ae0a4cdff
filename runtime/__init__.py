"""relay's runtime: the public API for flow runners, component authors and embedders.

Components import from here only (never from submodules). Each name is imported on first use:
importing ``runtime`` (which every ``relay`` command does) costs nothing until a name is needed,
and configures nothing.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runtime.api import Runtime
    from runtime.clock import Clock, ManualClock
    from runtime.connections import ConnectionHandle, InMemoryTokenStore, TokenStore
    from runtime.context import Context, State, idempotency_key
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
        NotFound,
        PluginError,
        Problem,
        ReconnectRequired,
        RelayError,
        RetriableApiError,
        StepFailed,
        WebhookRejected,
    )
    from runtime.executors.inprocess import InProcessExecutor
    from runtime.flows import Flow
    from runtime.hookspecs import hookimpl
    from runtime.http import HttpClient, Response
    from runtime.oauth import Token
    from runtime.results import ExecutionResult, StepRecord
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
    "NotFound",
    "OAuth2Endpoints",
    "PluginError",
    "PollResult",
    "Problem",
    "ReconnectRequired",
    "RelayError",
    "Response",
    "RetriableApiError",
    "Runtime",
    "Service",
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
    "idempotency_key",
    "open_store",
]

#: Where each public name lives.
_WHERE = {
    "Action": "runtime.declarations",
    "ApiError": "runtime.errors",
    "Choice": "runtime.declarations",
    "Clock": "runtime.clock",
    "Component": "runtime.declarations",
    "ConfigurationError": "runtime.errors",
    "Connection": "runtime.declarations",
    "ConnectionHandle": "runtime.connections",
    "Context": "runtime.context",
    "DataSource": "runtime.declarations",
    "ExecutionResult": "runtime.results",
    "ExpressionError": "runtime.errors",
    "FatalApiError": "runtime.errors",
    "Flow": "runtime.flows",
    "FlowError": "runtime.errors",
    "HttpClient": "runtime.http",
    "InMemoryTokenStore": "runtime.connections",
    "InProcessExecutor": "runtime.executors.inprocess",
    "Input": "runtime.declarations",
    "InputValidationError": "runtime.errors",
    "ManualClock": "runtime.clock",
    "NO_DEFAULT": "runtime.declarations",
    "NotFound": "runtime.errors",
    "OAuth2Endpoints": "runtime.declarations",
    "PluginError": "runtime.errors",
    "PollResult": "runtime.declarations",
    "Problem": "runtime.errors",
    "ReconnectRequired": "runtime.errors",
    "RelayError": "runtime.errors",
    "Response": "runtime.http",
    "RetriableApiError": "runtime.errors",
    "Runtime": "runtime.api",
    "Service": "runtime.service",
    "State": "runtime.context",
    "StepFailed": "runtime.errors",
    "StepRecord": "runtime.results",
    "Store": "runtime.store",
    "Token": "runtime.oauth",
    "TokenStore": "runtime.connections",
    "Trigger": "runtime.declarations",
    "TriggerEvent": "runtime.declarations",
    "WebhookRejected": "runtime.errors",
    "WebhookRequest": "runtime.declarations",
    "create_app": "runtime.server",
    "hookimpl": "runtime.hookspecs",
    "idempotency_key": "runtime.context",
    "open_store": "runtime.store",
}


def __getattr__(name: str) -> object:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'runtime' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
