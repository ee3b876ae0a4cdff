"""Log settings from the environment: checked, and a mistake is one clear line from ``relay``."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import MutableMapping
from typing import Any

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st
from relay_processes import run_relay

from runtime import ConfigurationError, Runtime
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


@pytest.mark.parametrize(
    ("var", "raw"), [("RELAY_LOG_LEVEL", "bogus"), ("RELAY_LOG_FORMAT", "xml")]
)
def test_relay_refuses_a_mistyped_setting_in_one_line(var: str, raw: str) -> None:
    done = run_relay("components", env={**os.environ, var: raw})
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


_IMPORT_CHECK = textwrap.dedent(
    """
    import logging, sys
    import structlog

    logging.basicConfig(level=logging.INFO, handlers=[logging.StreamHandler(sys.stdout)])
    structlog.configure(processors=[structlog.processors.KeyValueRenderer()])
    root = logging.getLogger()

    def seen():
        return (
            structlog.is_configured(), structlog.get_config(), root.level,
            list(root.handlers), list(root.filters), logging.root.manager.disable,
        )

    before = seen()
    import runtime, runtime.logs  # noqa: E401
    assert seen() == before, (before, seen())
    print("unchanged")
    """
)


def test_importing_runtime_leaves_the_callers_logging_as_it_was() -> None:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORT_CHECK], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "unchanged"


def test_the_runtime_logger_scrubs_what_its_runtime_learns_even_after_binding() -> None:
    events: list[dict[str, Any]] = []

    def capture(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> dict[str, Any]:
        events.append(dict(event))
        raise structlog.DropEvent

    rt = Runtime(load_entry_points=False, logger=structlog.wrap_logger(None, [capture]))
    bound = rt.logger.bind(note="key s3cr3t-bound-value")
    rt.using().redactor.add(["s3cr3t-bound-value", "s3cr3t-field-value"])
    bound.warning("saw s3cr3t-field-value", field="s3cr3t-field-value", password="plain-pw")
    other = Runtime(load_entry_points=False, logger=structlog.wrap_logger(None, [capture]))
    other.logger.warning("s3cr3t-field-value is not a secret of this runtime")
    assert events[0] == {
        "note": "key [redacted]",
        "field": "[redacted]",
        "password": "plain-pw",  # secret-named keys: the process's log pipeline redacts them
        "event": "saw [redacted]",
    }
    assert events[1]["event"] == "s3cr3t-field-value is not a secret of this runtime"
