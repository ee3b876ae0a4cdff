"""relay's runtime: the public API for flow runners, component authors and embedders.

Components import from here only (never from submodules).
"""

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
from runtime.engine import ExecutionResult, StepRecord
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
    "Input",
    "InputValidationError",
    "ManualClock",
    "NO_DEFAULT",
    "OAuth2Endpoints",
    "PluginError",
    "PollResult",
    "Problem",
    "ReconnectRequired",
    "RelayError",
    "Response",
    "RetriableApiError",
    "Runtime",
    "State",
    "StepFailed",
    "StepRecord",
    "Token",
    "TokenStore",
    "Trigger",
    "TriggerEvent",
    "WebhookRejected",
    "WebhookRequest",
    "hookimpl",
]
