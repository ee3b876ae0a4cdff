"""Deployment settings at the edge: the database URL and the public URL are checked, and a bad
one stops ``relay`` with one line naming the setting (never a traceback, never a password)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from relay_processes import run_relay

from runtime import ConfigurationError
from runtime.service import checked_public_url
from runtime.store.db import resolve_url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("garbage", "is not a URL"),
        ("mysql://user:hunter2@db/relay", "unsupported database 'mysql'"),
        ("mongodb://user:hunter2@db/relay", "unsupported database 'mongodb'"),
    ],
)
def test_database_urls_relay_cannot_use_are_refused(url: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        resolve_url(url, tmp_path)
    assert "hunter2" not in str(caught.value)


def test_sqlite_and_postgresql_urls_get_async_drivers(tmp_path: Path) -> None:
    assert resolve_url("sqlite:///x.db", tmp_path).drivername == "sqlite+aiosqlite"
    assert resolve_url("postgresql://u@h/db", tmp_path).drivername == "postgresql+psycopg"


def test_a_bad_database_url_is_one_line_from_relay(tmp_path: Path) -> None:
    done = run_relay(
        "instances",
        env={**os.environ, "RELAY_HOME": str(tmp_path), "RELAY_DATABASE_URL": "x:hunter2@@"},
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: the database URL (RELAY_DATABASE_URL) is not a URL")
    assert "Traceback" not in done.stderr and "hunter2" not in done.stderr


@pytest.mark.parametrize(
    "value",
    [
        "not a url",
        "ftp://relay.example.com",
        "https://",
        "https://relay.example.com/?a=1",
        "https://relay.example.com/#top",
        "https://relay.example.com:99999",
    ],
)
def test_unusable_public_urls_are_refused_by_name(value: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^RELAY_PUBLIC_URL="):
        checked_public_url(value, "RELAY_PUBLIC_URL")


def test_a_public_url_loses_its_trailing_slash() -> None:
    assert checked_public_url(" https://relay.example.com/hooks/ ", "x") == (
        "https://relay.example.com/hooks"
    )


def test_a_public_url_in_capitals_is_the_same_base() -> None:
    assert checked_public_url("HTTPS://Relay.example.com/", "--public-url") == (
        "https://Relay.example.com"
    )


@given(st.text(max_size=40) | st.from_regex(r"https?://[a-z.]{1,12}(:[0-9]{1,6})?(/[a-z]*)?"))
def test_any_public_url_is_taken_or_refused_by_name(value: str) -> None:
    try:
        base = checked_public_url(value, "--public-url")
    except ConfigurationError as exc:
        assert str(exc).startswith("--public-url=")
    else:
        assert base.startswith(("http://", "https://")) and not base.endswith("/")
