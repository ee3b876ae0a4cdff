"""Secrets at rest: a ``Keyring`` of Fernet keys (``MultiFernet``), newest first.

Keys come from ``RELAY_SECRET_KEYS`` (comma-separated, newest first) or from a key file (one
key a line, newest first; default ``<data dir>/secret.key``) created with mode 0600 on first
use. A key file that group or others may read is refused: the keys protect every token and
signing key in the database, so a readable key file would make the encryption decorative.

Rotation (``Store.rotate_keys``, ``relay keys rotate``) puts a new key first: new writes use it, and
``MultiFernet.rotate`` re-encrypts old ciphertext under it while older keys still decrypt. The
key file is rewritten *before* rows are re-encrypted, so a crash in between leaves every row
readable.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tempfile
from typing import TYPE_CHECKING, Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from runtime.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

ENV_KEYS = "RELAY_SECRET_KEYS"
KEY_FILE = "secret.key"


class DecryptionError(ConfigurationError):
    """Stored ciphertext could not be decrypted with any key of the keyring
    (the keys in ``RELAY_SECRET_KEYS`` or the key file are not the ones it was written with)."""


class Keyring:
    """Encrypts and decrypts with the first key; decrypts with any. Keys never appear in repr."""

    def __init__(
        self, keys: Sequence[str | bytes], *, path: Path | None = None, from_env: bool = False
    ) -> None:
        self._set_keys(keys)
        #: where the keys came from, if a file: rewritten on rotation
        self.path = path
        self.from_env = from_env

    def _set_keys(self, keys: Sequence[str | bytes]) -> None:
        if not keys:
            raise ConfigurationError("a keyring needs at least one key")
        try:
            fernets = [Fernet(k) for k in keys]
        except (ValueError, TypeError) as exc:
            raise ConfigurationError(
                "invalid secret key: each key must be a url-safe base64 Fernet key "
                "(make one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            ) from exc
        self._keys = [k.decode() if isinstance(k, bytes) else k for k in keys]
        self._multi = MultiFernet(fernets)

    def __repr__(self) -> str:
        source = f"file {self.path}" if self.path else "environment" if self.from_env else "memory"
        return f"<Keyring {len(self._keys)} key(s) from {source}>"

    @classmethod
    def generate(cls) -> Keyring:
        """A keyring with one fresh key, held in memory only (tests, throwaway stores)."""
        return cls([Fernet.generate_key()])

    @classmethod
    def load(cls, data_dir: Path, key_file: Path | None = None) -> Keyring:
        """From ``RELAY_SECRET_KEYS`` if set, else from the key file (created if absent)."""
        env = os.environ.get(ENV_KEYS, "").strip()
        if env:
            return cls([k.strip() for k in env.split(",") if k.strip()], from_env=True)
        path = key_file or data_dir / KEY_FILE
        if not path.exists():
            _create_key_file(path, [Fernet.generate_key().decode()])
        return cls(_read_key_file(path), path=path)

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys, newest first (secret: do not log)."""
        return tuple(self._keys)

    @property
    def fingerprints(self) -> tuple[str, ...]:
        """A short, non-secret name for each key, newest first (see ``fingerprint``)."""
        return tuple(fingerprint(k) for k in self._keys)

    def key_index(self, token: bytes) -> int | None:
        """Which key (0 = newest) decrypts ``token``; ``None`` if none does."""
        for index, key in enumerate(self._keys):
            with contextlib.suppress(InvalidToken):
                Fernet(key).decrypt(token)
                return index
        return None

    def encrypt(self, data: bytes) -> bytes:
        """``data`` encrypted under the newest key."""
        return self._multi.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        """``token`` decrypted by any key of the ring (re-reading the key file once if none
        fits); a ``DecryptionError`` when no key does."""
        try:
            return self._multi.decrypt(token)
        except InvalidToken as exc:
            # another process (``relay keys rotate``) may have added a key to the shared file
            if self._reload():
                with contextlib.suppress(InvalidToken):
                    return self._multi.decrypt(token)
            raise DecryptionError(
                "stored secrets cannot be decrypted with the configured keys "
                f"({ENV_KEYS} or the key file): was a key removed or replaced?"
            ) from exc

    def _reload(self) -> bool:
        """Re-read the key file; whether the keys changed."""
        if self.path is None or not self.path.exists():
            return False
        keys = _read_key_file(self.path)
        if keys == self._keys:
            return False
        self._set_keys(keys)
        return True

    def encrypt_json(self, value: Any) -> bytes:
        """``value`` as compact JSON, encrypted (how stored secrets are written)."""
        return self.encrypt(json.dumps(value, separators=(",", ":")).encode())

    def decrypt_json(self, token: bytes) -> Any:
        """The JSON value ``encrypt_json`` stored in ``token``."""
        return json.loads(self.decrypt(token))

    def reencrypt(self, token: bytes) -> bytes:
        """``token`` encrypted under the newest key (decryptable by any key of this ring)."""
        try:
            return self._multi.rotate(token)
        except InvalidToken as exc:
            raise DecryptionError("a stored secret cannot be decrypted for rotation") from exc

    def add_key(self, key: str | bytes | None = None) -> None:
        """Put ``key`` (or a generated one) first: new encryptions use it, old keys still
        decrypt. A key file is rewritten before this returns. Keys from the environment need
        an explicit key, which the caller must then put first in ``RELAY_SECRET_KEYS``: a
        generated one would be lost with the process, and the data with it."""
        if key is None and self.from_env:
            raise ConfigurationError(
                f"the keys come from {ENV_KEYS}: pass the new key explicitly, then put it first "
                f"in {ENV_KEYS}"
            )
        keys = [key if key is not None else Fernet.generate_key(), *self._keys]
        if self.path is not None:
            _write_key_file(self.path, [k.decode() if isinstance(k, bytes) else k for k in keys])
        self._set_keys(keys)


def fingerprint(key: str | bytes) -> str:
    """16 hex digits of the key's SHA-256: tells keys apart in listings without revealing them
    (a hash of 256 random bits cannot be turned back into the key)."""
    raw = key.encode() if isinstance(key, str) else key
    return hashlib.sha256(b"relay key fingerprint:" + raw).hexdigest()[:16]


def _read_key_file(path: Path) -> list[str]:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigurationError(
            f"the key file {path} is accessible by group or others "
            f"(mode {stat.S_IMODE(mode):04o}); run `chmod 600 {path}` and try again"
        )
    keys = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if not keys:
        raise ConfigurationError(f"the key file {path} holds no key")
    return keys


def _create_key_file(path: Path, keys: list[str]) -> None:
    """Create the key file atomically: two processes starting together agree on one key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = _write_private_temp(path, keys)
    try:
        # link() fails if the target exists: the first process to get here wins
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)


def _write_key_file(path: Path, keys: list[str]) -> None:
    """Replace the key file atomically (rename over it), still 0600."""
    tmp = _write_private_temp(path, keys)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _write_private_temp(path: Path, keys: list[str]) -> str:
    # mkstemp creates the file with mode 0600, whatever the umask
    fd, tmp = tempfile.mkstemp(prefix=".secret-", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join(keys) + "\n")
        f.flush()
        os.fsync(f.fileno())
    return tmp
