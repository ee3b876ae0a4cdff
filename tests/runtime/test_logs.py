"""Log settings from the environment: checked, and a mistake is one clear line from ``relay``."""

from __future__ import annotations

import os
import subprocess

import pytest
from hypothesis import given
from hypothesis import strategies as st
from relay_processes import RELAY

from runtime import ConfigurationError
from runtime.logs import FORMATS, LEVELS, settings_from_env


def test_defaults_and_any_case() -> None:
    assert settings_from_env({}) == ("warning", False)
    assert settings_from_env({"RELAY_LOG_LEVEL": " Debug ", "RELAY_LOG_FORMAT": "JSON"}) == (
        "debug",
        True,
    )


@given(
    var=st.sampled_from(["RELAY_LOG_LEVEL", "RELAY_LOG_FORMAT"]),
    raw=st.text(max_size=10) | st.sampled_from([*LEVELS, *FORMATS]),
)
def test_any_value_is_taken_or_refused_by_name(var: str, raw: str) -> None:
    try:
        level, as_json = settings_from_env({var: raw})
    except ConfigurationError as exc:
        assert str(exc).startswith(f"{var}={raw!r}: must be one of")
    else:
        assert level in LEVELS and isinstance(as_json, bool)


@pytest.mark.parametrize(("var", "raw"), [("RELAY_LOG_LEVEL", "bogus"), ("RELAY_LOG_FORMAT", "xml")])
def test_relay_refuses_a_mistyped_setting_in_one_line(var: str, raw: str) -> None:
    done = subprocess.run(
        [RELAY, "components"],
        env={**os.environ, var: raw},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"error: {var}={raw!r}: must be one of " + ", ".join(
        LEVELS if var == "RELAY_LOG_LEVEL" else FORMATS
    )
    assert "Traceback" not in done.stderr and done.stdout == ""


def test_logging_configured_under_a_replaced_stderr_survives_its_closing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A stream that was stderr when logging was configured (a CLI runner's) may be closed
    later; log lines then go to the stderr of the moment instead of raising."""
    import io
    import sys

    import structlog

    from runtime.logs import configure_logging

    replaced = io.StringIO()
    monkeypatch.setattr(sys, "stderr", replaced)
    try:
        configure_logging("warning")
        structlog.get_logger("relay.test").warning("while replaced")
    finally:
        monkeypatch.undo()
    replaced.close()
    try:
        structlog.get_logger("relay.test").warning("after closing")
        assert "after closing" in capsys.readouterr().err
    finally:
        configure_logging("warning")
