"""Queue settings from the environment: every value checked, errors naming the variable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime import ConfigurationError
from runtime.executors.dramatiq import QueueSettings


def test_sweep_settings_are_validated() -> None:
    with pytest.raises(ConfigurationError, match="RELAY_SWEEP_INTERVAL"):
        QueueSettings.from_env({"RELAY_SWEEP_INTERVAL": "soon"})
    with pytest.raises(ConfigurationError, match="cannot be negative"):
        QueueSettings.from_env({"RELAY_STALL_AFTER": "-1"})
    assert QueueSettings.from_env({"RELAY_SWEEP_INTERVAL": "0"}).sweep_interval == 0
    for name in ("RELAY_SWEEP_INTERVAL", "RELAY_STALL_AFTER", "RELAY_HEARTBEAT_TIMEOUT"):
        for raw in ("nan", "inf", "-inf"):
            with pytest.raises(ConfigurationError, match="finite"):
                QueueSettings.from_env({name: raw})


def test_defaults_sweep_every_30_s_for_what_is_2_minutes_old() -> None:
    settings = QueueSettings.from_env({})
    assert (settings.sweep_interval, settings.stall_after) == (30.0, 120.0)
    tuned = QueueSettings.from_env({"RELAY_SWEEP_INTERVAL": "5", "RELAY_STALL_AFTER": "60"})
    assert (tuned.sweep_interval, tuned.stall_after) == (5.0, 60.0)


@given(
    name=st.sampled_from(["RELAY_SWEEP_INTERVAL", "RELAY_STALL_AFTER", "RELAY_HEARTBEAT_TIMEOUT"]),
    raw=st.text(max_size=12) | st.sampled_from(["nan", "inf", "1e400", "-0", " 5 "]),
)
def test_any_value_is_taken_or_refused_by_name(name: str, raw: str) -> None:
    try:
        settings = QueueSettings.from_env({name: raw})
    except ConfigurationError as exc:
        assert name in str(exc) or "finite" in str(exc)
    else:
        values = (settings.sweep_interval, settings.stall_after, settings.heartbeat_timeout)
        assert all(0 <= v < float("inf") for v in values)
