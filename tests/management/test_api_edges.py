"""The API's edges over a real socket: any query, body or Authorization header gets an answer
the OpenAPI document allows and never a server error; schemathesis checks every operation of
relay's own document against the live server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from relay_api import live
from schemathesis.core.result import Ok

pytestmark = pytest.mark.asyncio

EXAMPLES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
text = st.text(max_size=40)
query_values = st.one_of(
    text, st.integers().map(str), st.floats(allow_nan=True).map(str), st.just("")
)
PARAMS = ["instance", "status", "created_after", "created_before", "error", "limit", "cursor"]


def answered_well(answer: httpx.Response, allowed: set[int]) -> None:
    assert answer.status_code in allowed, (answer.status_code, answer.text)
    if answer.status_code >= 400:
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["status"] == answer.status_code
    assert "Traceback" not in answer.text


async def test_any_query_gets_a_page_or_a_problem(tmp_path: Path) -> None:
    async with live(tmp_path) as (url, auth, _execution):

        @EXAMPLES
        @given(st.dictionaries(st.sampled_from(PARAMS), query_values, max_size=4))
        def check(params: dict[str, str]) -> None:
            answer = httpx.get(f"{url}/api/v1/executions", params=params, headers=auth)
            answered_well(answer, {200, 422})
            if answer.status_code == 422:
                fields = {e["field"] for e in answer.json()["errors"]}
                assert fields <= {f"$.{p}" for p in params}, fields

        await asyncio.to_thread(check)


async def test_any_replay_body_is_accepted_or_a_problem(tmp_path: Path) -> None:
    async with live(tmp_path) as (url, auth, execution):
        bodies = st.one_of(
            st.binary(max_size=60),
            st.dictionaries(
                st.sampled_from(["from_step", "flow_version", "other"]),
                st.one_of(st.none(), text, st.integers(), st.booleans()),
                max_size=3,
            ).map(lambda d: json.dumps(d).encode()),
        )

        @EXAMPLES
        @given(bodies)
        def check(body: bytes) -> None:
            answer = httpx.post(
                f"{url}/api/v1/executions/{execution}/replay",
                content=body,
                headers={**auth, "Content-Type": "application/json"},
            )
            answered_well(answer, {202, 400, 409, 422})

        await asyncio.to_thread(check)


async def test_any_authorization_header_is_refused_cleanly(tmp_path: Path) -> None:
    async with live(tmp_path) as (url, _auth, _execution):
        headers = st.one_of(
            st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=80),
            st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=60).map(
                lambda s: "Bearer " + s
            ),
        )

        @settings(max_examples=40, deadline=None)
        @given(headers.filter(lambda v: v == v.strip()))
        def check(value: str) -> None:
            answer = httpx.get(f"{url}/api/v1/instances", headers={"Authorization": value})
            answered_well(answer, {401, 429})
            sent = value.removeprefix("Bearer ")
            # what was sent is not echoed back
            assert len(sent) < 8 or sent not in answer.text

        await asyncio.to_thread(check)


async def test_schemathesis_finds_no_server_error_and_no_answer_off_the_document(
    tmp_path: Path,
) -> None:
    async with live(tmp_path) as (url, auth, _execution):

        def run() -> list[str]:
            schema = schemathesis.openapi.from_url(f"{url}/api/v1/openapi.json")
            failures: list[str] = []
            for result in schema.get_all_operations():
                assert isinstance(result, Ok), result  # relay's own document is valid
                operation = result.ok()
                if operation.path == "/events":  # a stream that never ends: test_events_api
                    continue

                @settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
                @given(operation.as_strategy())
                def check(case: Any) -> None:
                    answer = case.call(base_url=f"{url}/api/v1", headers=auth)
                    case.validate_response(answer)

                try:
                    check()
                except Exception as exc:  # collected: one failing operation must not hide others
                    failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
            return failures

        failures = await asyncio.to_thread(run)
        assert not failures, "\n\n".join(failures)
