"""A plain webhook's secret comes from `secret: true` config, is evaluated at deploy, verified
as evaluated, and stored only encrypted (never in a flow text, an execution or the database)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from relay_service_support import CONFIG, FLOW, SECRET, LiveService, body, sign

from runtime import FlowError, Runtime, Service, open_store
from runtime.cli import cli
from runtime.trigger_kinds import WebhookTrigger

EXPRESSION = "${{ config.hookSecret }}"


def flow_with(config: str, secret: str) -> str:
    return (
        "name: signed\n"
        f"config:\n{config}"
        "trigger:\n"
        f"  webhook: {{secret: {json.dumps(secret)}}}\n"
        "steps:\n"
        "  - {id: done, action: relay.value, inputs: {value: 1}}\n"
    )


def problems_of(text: str) -> list[str]:
    with pytest.raises(FlowError) as caught:
        Runtime().load_flow_text(text, "flow.yaml")
    return [str(p) for p in caught.value.problems]


@pytest.mark.parametrize(
    ("config", "secret", "expected"),
    [
        ("  other: {type: string}\n", "hunter2-literal", "must not be written in the flow"),
        ("  hookSecret: {type: string}\n", EXPRESSION, "must be declared with `secret: true`"),
        (
            "  hookSecret: {type: string, secret: true, default: hunter2-literal}\n",
            EXPRESSION,
            "must not have a `default:`",
        ),
        (
            "  hookSecret: {type: string, secret: true}\n",
            "prefix-${{ config.hookSecret }}",
            "one ${{ expression }} over config variables",
        ),
        (
            "  hookSecret: {type: string, secret: true}\n",
            "${{ trigger.body.key }}",
            "one ${{ expression }} over config variables",
        ),
        ("  hookSecret: {type: string, secret: true}\n", '${{ "abc" }}', "over config variables"),
    ],
    ids=["literal", "not-secret", "default", "interpolated", "not-config", "constant"],
)
def test_a_secret_not_from_secret_config_is_a_problem_at_its_place(
    config: str, secret: str, expected: str
) -> None:
    [problem] = problems_of(flow_with(config, secret))
    line = 4 + config.count("\n")  # the `webhook:` line
    assert problem.startswith(f"flow.yaml:{line}:")
    assert expected in problem
    assert "hunter2" not in problem  # the written value is never repeated
    assert "\n" not in problem


def test_an_expression_over_secret_config_validates() -> None:
    flow = Runtime().load_flow_text(
        flow_with("  hookSecret: {type: string, secret: true}\n", EXPRESSION), "flow.yaml"
    )
    assert isinstance(flow.trigger, WebhookTrigger)
    assert flow.trigger.secret is not None and flow.trigger.secret.raw == EXPRESSION


@given(st.text(min_size=1).filter(lambda s: "${{" not in s))
def test_any_literal_secret_is_refused_without_being_repeated(secret: str) -> None:
    text = flow_with("  hookSecret: {type: string, secret: true}\n", secret)
    with pytest.raises(FlowError) as caught:
        Runtime().load_flow_text(text, "flow.yaml")
    for problem in caught.value.problems:
        assert "\n" not in str(problem)
        if len(secret.strip()) >= 6 and problem.line == 5:
            assert secret not in problem.message


@pytest.mark.asyncio
async def test_deliveries_are_verified_with_the_evaluated_secret(service: LiveService) -> None:
    path = await service.deploy("a")
    assert (await service.post(path, body(1), sign(body(1)))).status_code == 202
    forged = await service.post(path, body(2), sign(body(2), secret=EXPRESSION))
    assert forged.status_code == 401
    await service.executor.drain()
    [row] = await service.executions()
    assert SECRET not in row.flow_text


@pytest.mark.asyncio
async def test_the_secret_is_nowhere_in_the_database_in_clear(tmp_path: Path) -> None:
    flow = tmp_path / "plain.yaml"
    flow.write_text(FLOW)
    runtime = Runtime()
    store = await open_store(f"sqlite+aiosqlite:///{tmp_path / 'relay.db'}", data_dir=tmp_path)
    relay = Service(runtime, store, base_url="http://relay.test")
    try:
        instance = await relay.deploy(flow, CONFIG, "a")
        await relay.start_manual("a", {"n": 1})
        assert (await store.get_instance("a")) is not None
        assert SECRET not in instance.flow_text
    finally:
        await relay.aclose()
        await runtime.aclose()
        await store.close()
    files = await asyncio.to_thread(lambda: list(tmp_path.glob("relay.db*")))
    assert files
    for file in files:
        assert SECRET.encode() not in file.read_bytes(), file.name


def test_relay_run_evaluates_the_secret(tmp_path: Path) -> None:
    flow = tmp_path / "flow.yaml"
    flow.write_text(
        flow_with("  hookSecret: {type: string, secret: true, required: false}\n", EXPRESSION)
    )
    config = tmp_path / "config.yaml"
    config.write_text("{}\n")
    refused = CliRunner().invoke(cli, ["run", str(flow), "--config", str(config)])
    assert refused.exit_code != 0
    assert "trigger.webhook.secret" in refused.output
    assert len(refused.output.strip().splitlines()) == 1
    config.write_text("hookSecret: s3cr3t-value\n")
    ran = CliRunner().invoke(cli, ["run", str(flow), "--config", str(config), "--json"])
    assert ran.exit_code == 0, ran.output
    assert "s3cr3t-value" not in ran.output


@pytest.mark.asyncio
async def test_an_instance_stored_with_a_literal_secret_is_refused_in_one_line(
    service: LiveService,
) -> None:
    """A flow stored by an older relay (a literal secret) no longer loads: 503, not a 500."""
    path = await service.deploy("a")
    old = FLOW.replace('"${{ config.hookSecret }}"', "literal-old-secret")
    await service.relay.store.update_instance_flow("a", old, 2)
    service.relay.forget("a")
    response = await service.post(path, body(1), sign(body(1), secret="literal-old-secret"))
    assert response.status_code == 503
    assert response.json() == {"error": "the instance's flow no longer loads: redeploy it"}
    assert await service.executions() == []
