"""Encryption keys for tests: a fresh key, and a fresh ``Keyring`` fixture for the store."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from cryptography.fernet import Fernet

if TYPE_CHECKING:  # the store is imported by the tests that use it, not by every test run
    from runtime.store import Keyring


def fresh_key() -> str:
    """A new key as ``RELAY_SECRET_KEYS`` and the key file hold it."""
    return Fernet.generate_key().decode()


@pytest.fixture
def keyring() -> Keyring:
    """A keyring of one fresh key, for a store a test opens."""
    from runtime.store import Keyring

    return Keyring.generate()
