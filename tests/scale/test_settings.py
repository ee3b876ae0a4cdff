"""Queue and worker settings from the environment: every value checked, errors naming the
variable."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from runtime import ConfigurationError
from runtime.executors.dramatiq import QueueSettings
from runtime.executors.worker import WorkerSettings

NUMBERS = [
    "RELAY_SWEEP_INTERVAL",
    "RELAY_STALL_AFTER",
    "RELAY_HEARTBEAT_TIMEOUT",
    "RELAY_MAINTENANCE_CHANCE",
    "RELAY_WORKER_THREADS",
    "RELAY_TIME_LIMIT",
    "RELAY_LEASE",
    "RELAY_MAX_RETRIES",
    "RELAY_MIN_BACKOFF",
    "RELAY_MAX_BACKOFF",
    "RELAY_REQUESTS_PER_MINUTE",
    "RELAY_WORKER_GRACE",
]
#: Settings for which zero makes no sense.
ABOVE_ZERO = {
    "RELAY_HEARTBEAT_TIMEOUT",
    "RELAY_WORKER_THREADS",
    "RELAY_TIME_LIMIT",
    "RELAY_LEASE",
    "RELAY_REQUESTS_PER_MINUTE",
}


def test_sweep_settings_are_validated() -> None:
    with pytest.raises(ConfigurationError, match="RELAY_SWEEP_INTERVAL='soon' is not a valid"):
        QueueSettings.from_env({"RELAY_SWEEP_INTERVAL": "soon"})
    with pytest.raises(ConfigurationError, match="RELAY_STALL_AFTER='-1': must be a finite"):
        QueueSettings.from_env({"RELAY_STALL_AFTER": "-1"})
    assert QueueSettings.from_env({"RELAY_SWEEP_INTERVAL": "0"}).sweep_interval == 0
    with pytest.raises(ConfigurationError, match="cannot be negative"):
        QueueSettings(stall_after=-1)  # built in code rather than from the environment


@pytest.mark.parametrize("name", NUMBERS)
@pytest.mark.parametrize("raw", ["nan", "inf", "-inf", "-1"])
def test_no_number_setting_takes_infinite_or_negative_values(name: str, raw: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        WorkerSettings.from_env({name: raw})
    assert str(caught.value).startswith(f"{name}={raw!r}")


@pytest.mark.parametrize("name", sorted(ABOVE_ZERO))
def test_zero_is_refused_where_it_makes_no_sense(name: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{name}='0': must be a finite number above"):
        WorkerSettings.from_env({name: "0"})


def test_defaults_sweep_every_30_s_for_what_is_2_minutes_old() -> None:
    settings = QueueSettings.from_env({})
    assert (settings.sweep_interval, settings.stall_after) == (30.0, 120.0)
    tuned = QueueSettings.from_env({"RELAY_SWEEP_INTERVAL": "5", "RELAY_STALL_AFTER": "60"})
    assert (tuned.sweep_interval, tuned.stall_after) == (5.0, 60.0)


@given(
    name=st.sampled_from(NUMBERS),
    raw=st.text(max_size=12) | st.sampled_from(["nan", "inf", "1e400", "-0", " 5 ", "0"]),
)
def test_any_value_is_taken_or_refused_by_name(name: str, raw: str) -> None:
    try:
        settings = WorkerSettings.from_env({name: raw})
    except ConfigurationError as exc:
        assert str(exc).startswith(f"{name}=")
    else:
        queue = settings.queue
        values = [
            queue.sweep_interval,
            queue.stall_after,
            queue.heartbeat_timeout,
            queue.maintenance_chance,
            settings.threads,
            settings.time_limit,
            settings.lease,
            settings.max_retries,
            settings.min_backoff,
            settings.max_backoff,
            settings.requests_per_minute,
            settings.grace,
        ]
        assert all(0 <= v < float("inf") for v in values)
        assert settings.lease > 0 and settings.threads > 0 and queue.heartbeat_timeout > 0
