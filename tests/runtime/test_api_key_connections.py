"""API-key connections without OAuth endpoints: the key in a header of the author's choice or
a query parameter, sent only to the API's origin; the harness's connections; output schemas
checked by the harness, the conformance kit and (logged) the engine."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from runtime import (
    Action,
    Component,
    ConfigurationError,
    Connection,
    InputValidationError,
    PluginError,
    Runtime,
)
from runtime import Input as In
from runtime.testing import ComponentPlugin, assert_output_conforms, check_component, harness

KEY = "k-3141-secret"


class _Echo(BaseHTTPRequestHandler):
    """Answers every GET with what it received: path, query and headers."""

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        body = json.dumps(
            {
                "path": url.path,
                "query": dict(parse_qsl(url.query)),
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def _echo(ctx: Any, params: dict[str, Any]) -> dict[str, Any]:
    client = ctx.http(params["connection"])
    response = await client.request("GET", "/echo", params={"q": params.get("q")})
    return {"data": response.json()}


async def _elsewhere(ctx: Any, params: dict[str, Any]) -> Any:
    client = ctx.http(params["connection"])
    return (await client.request("GET", "http://localhost:9/steal")).json()


def key_input() -> In:
    return In(key="apiKey", label="API key", type="password", required=True)


def base_input() -> In:
    return In(key="baseUrl", label="Base URL", required=True)


def connection(key: str, **placement: Any) -> Connection:
    return Connection(
        key=key,
        label=key,
        kind="api_key",
        inputs=(key_input(), base_input()),
        api_base_url=lambda fields: fields["baseUrl"],
        **placement,
    )


def echo_component(*connections: Connection, output_schema: Any = None) -> Component:
    conn = In(key="connection", label="Connection", type="connection", required=True)
    return Component(
        key="echo",
        label="Echo",
        description="Echoes requests.",
        connections=connections,
        actions=(
            Action(
                key="echo",
                label="Echo",
                description="What the API received.",
                inputs=(conn, In(key="q", label="Q")),
                perform=_echo,
                output_schema=output_schema or {"type": "object", "required": ["data"]},
            ),
            Action(
                key="elsewhere",
                label="Elsewhere",
                description="Tries another origin.",
                inputs=(conn,),
                perform=_elsewhere,
            ),
        ),
    )


PLACEMENTS = {
    "bearer": {},
    "header": {"api_key_header": "X-Api-Key"},
    "prefixed": {"api_key_header": "Authorization", "api_key_prefix": "Token "},
    "query": {"api_key_query": "api_key"},
}


@pytest.mark.parametrize("name", sorted(PLACEMENTS))
@pytest.mark.asyncio
async def test_the_key_travels_where_the_author_said(api: str, name: str) -> None:
    component = echo_component(connection("key", **PLACEMENTS[name]))
    assert check_component(component) == []
    async with harness(component) as h:
        handle = await h.connect("echo", "key", {"apiKey": KEY, "baseUrl": api})
        out = await h.invoke("echo.echo", {"connection": handle, "q": "x"})
        got = out["data"]
        with pytest.raises(ConfigurationError, match="credentials stay with their API"):
            await h.invoke("echo.elsewhere", {"connection": handle})
    expected_headers = {
        "bearer": ("authorization", f"Bearer {KEY}"),
        "header": ("x-api-key", KEY),
        "prefixed": ("authorization", f"Token {KEY}"),
    }
    if name == "query":
        assert got["query"] == {"q": "x", "api_key": KEY}
        assert KEY not in json.dumps(got["headers"])
    else:
        header, value = expected_headers[name]
        assert got["headers"][header] == value
        assert got["query"] == {"q": "x"}
        others = {k: v for k, v in got["headers"].items() if k != header}
        assert KEY not in json.dumps(others)


@pytest.mark.asyncio
async def test_the_key_stays_out_of_records_and_logs_in_a_flow(api: str) -> None:
    runtime = Runtime(
        plugins=[ComponentPlugin(echo_component(connection("key", api_key_query="api_key")))],
        load_entry_points=False,
    )
    flow = runtime.load_flow_text(
        "name: f\nconfig:\n  c: {type: connection, component: echo, connection: key}\n"
        "steps:\n  - id: a\n    action: echo.echo\n    inputs: {connection: '${{ config.c }}'}\n"
    )
    with structlog.testing.capture_logs() as logs:
        result = await runtime.run(flow, config={"c": {"apiKey": KEY, "baseUrl": api}})
    await runtime.aclose()
    assert result.status == "completed"
    assert result.outputs["a"]["data"]["query"]["api_key"] == KEY  # in memory, as returned
    assert KEY not in json.dumps(result.as_dict())
    assert KEY not in repr(logs)


def test_an_api_key_connection_needs_no_oauth_endpoints() -> None:
    fixed = Connection(
        key="k", label="K", kind="api_key", inputs=(key_input(),), api_base_url="https://a.test"
    )
    assert check_component(echo_component(fixed)) == []
    endpoints = fixed.endpoints_for({"apiKey": KEY})
    assert endpoints.api_base_url == "https://a.test"


BAD: dict[str, tuple[dict[str, Any], str]] = {
    "no base URL": (
        {"inputs": (key_input(),)},
        "an api_key connection needs api_base_url (or endpoints)",
    ),
    "key input not a password": (
        {"inputs": (In(key="apiKey", label="K", required=True),), "api_base_url": "https://a"},
        "input 'apiKey' holds the key: declare it type='password'",
    ),
    "key input missing": (
        {"inputs": (key_input(),), "api_base_url": "https://a", "token_input": "token"},
        "token_input 'token' is not one of its inputs",
    ),
    "bad header": (
        {"inputs": (key_input(),), "api_base_url": "https://a", "api_key_header": "X Key"},
        "api_key_header 'X Key' is not a header name",
    ),
    "bad query name": (
        {"inputs": (key_input(),), "api_base_url": "https://a", "api_key_query": "a&b"},
        "api_key_query 'a&b' is not a usable name",
    ),
    "line break in prefix": (
        {"inputs": (key_input(),), "api_base_url": "https://a", "api_key_prefix": "T\r\nX: "},
        "api_key_prefix may not hold a line break",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_api_key_declarations_fail_at_load(case: str) -> None:
    fields, message = BAD[case]
    bad = Connection(key="k", label="K", kind="api_key", **fields)
    with pytest.raises(PluginError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Runtime(plugins=[ComponentPlugin(echo_component(bad))], load_entry_points=False)


def test_an_oauth_connection_still_needs_endpoints() -> None:
    bad = Connection(key="o", label="O", kind="oauth2", inputs=())
    with pytest.raises(PluginError, match="an oauth2 connection needs endpoints"):
        Runtime(plugins=[ComponentPlugin(echo_component(bad))], load_entry_points=False)


@given(st.text(min_size=1, max_size=12))
def test_a_header_name_loads_only_when_it_is_a_header_name(name: str) -> None:
    declared = Connection(
        key="k",
        label="K",
        kind="api_key",
        inputs=(key_input(),),
        api_base_url="https://a.test",
        api_key_header=name,
    )
    problems = check_component(echo_component(declared))
    token = all(c.isascii() and (c.isalnum() or c in "!#$%&'*+.^_`|~-") for c in name)
    assert (problems == []) == token, (name, problems)


@pytest.mark.asyncio
async def test_a_connection_input_given_something_else_says_what_to_pass(api: str) -> None:
    component = echo_component(connection("key"))
    async with harness(component) as h:
        for wrong in ({"apiKey": KEY, "baseUrl": api}, "key", 3):
            with pytest.raises(InputValidationError) as info:
                await h.invoke("echo.echo", {"connection": wrong})
            text = str(info.value)
            assert "$connection" not in text
            assert "$.connection: is not a connection" in text
            assert "Harness.connect" in text


@pytest.mark.asyncio
async def test_the_harness_checks_outputs_against_the_output_schema(api: str) -> None:
    schema = {
        "type": "object",
        "required": ["data"],
        "properties": {"data": {"type": "object", "required": ["missing"]}},
    }
    component = echo_component(connection("key"), output_schema=schema)
    assert check_component(component) == []
    async with harness(component) as h:
        handle = await h.connect("echo", "key", {"apiKey": KEY, "baseUrl": api})
        with pytest.raises(AssertionError) as info:
            await h.invoke("echo.echo", {"connection": handle})
    assert "echo.echo: the output does not match its output_schema" in str(info.value)
    assert "$.data: 'missing' is a required property" in str(info.value)


def test_the_conformance_kit_checks_sample_outputs_against_the_output_schema() -> None:
    component = echo_component(connection("key"))
    echo = component.actions[0]
    sampled = Component(
        key="echo",
        label="Echo",
        description="Echoes requests.",
        connections=component.connections,
        actions=(
            Action(
                key="echo",
                label=echo.label,
                description=echo.description,
                inputs=echo.inputs,
                perform=echo.perform,
                output_schema=echo.output_schema,
                examples=({"data": {}}, {"dta": 1}),
            ),
        ),
    )
    assert check_component(sampled) == [
        "echo.echo (action): examples[1] does not match the output schema: "
        "$: 'data' is a required property"
    ]


def test_assert_output_conforms() -> None:
    component = echo_component(connection("key"))
    assert_output_conforms(component, "echo", {"data": {}})
    assert_output_conforms(component, "elsewhere", "anything: it declares no schema")
    with pytest.raises(AssertionError, match=r"\$: 'data' is a required property"):
        assert_output_conforms(component, "echo", {"dta": {}})


@pytest.mark.asyncio
async def test_the_engine_logs_a_mismatch_naming_the_action_and_goes_on(api: str) -> None:
    schema = {"type": "object", "properties": {"data": {"type": "array"}}}
    runtime = Runtime(
        plugins=[ComponentPlugin(echo_component(connection("key"), output_schema=schema))],
        load_entry_points=False,
    )
    flow = runtime.load_flow_text(
        "name: f\nconfig:\n  c: {type: connection, component: echo, connection: key}\n"
        "steps:\n  - id: a\n    action: echo.echo\n    inputs: {connection: '${{ config.c }}'}\n"
    )
    with structlog.testing.capture_logs() as logs:
        result = await runtime.run(flow, config={"c": {"apiKey": KEY, "baseUrl": api}})
    await runtime.aclose()
    assert result.status == "completed"
    warned = [e for e in logs if e["event"] == "action output does not match its output_schema"]
    assert len(warned) == 1
    assert warned[0]["log_level"] == "warning"
    assert warned[0]["action"] == "echo.echo"
    assert warned[0]["problem"] == "$.data: is a mapping, not a list"
    assert KEY not in repr(logs)
