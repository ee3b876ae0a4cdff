"""Suite-wide settings: a bounded hypothesis profile, a private RELAY_HOME per test, and the
shared fixtures of ``tests/support`` (``keyring``)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile(
    "relay",
    max_examples=int(os.environ.get("RELAY_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    derandomize=os.environ.get("CI") == "true",
)
settings.load_profile("relay")

pytest_plugins = ["relay_keys"]


@pytest.fixture(autouse=True)
def _relay_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test touches the real per-user store: ``RELAY_HOME`` is a fresh temporary directory
    (a test may set its own)."""
    monkeypatch.setenv("RELAY_HOME", str(tmp_path_factory.mktemp("relay-home")))
