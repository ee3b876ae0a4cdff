"""The stored secrets against the keyring: which keys they need, whether the configured keys
read them, and re-encrypting them under a new key (the columns ``runtime.store.tables`` marks
encrypted)."""

from __future__ import annotations

from sqlalchemy import select, update

from runtime.store.base import StoreBase
from runtime.store.crypto import ENV_KEYS, DecryptionError
from runtime.store.db import writer
from runtime.store.tables import encrypted_columns


class KeyQueries(StoreBase):
    """The ``Store``'s key methods."""

    async def key_usage(self) -> tuple[list[int], int]:
        """How many stored secrets each key (newest first) decrypts, and how many none does:
        a key no secret needs any more can be dropped."""
        counts = [0] * len(self.keyring.keys)
        unreadable = 0
        async with self.engine.connect() as conn:
            for table, names in encrypted_columns():
                for row in await conn.execute(select(*(table.c[n] for n in names))):
                    for value in row:
                        index = self.keyring.key_index(value)
                        if index is None:
                            unreadable += 1
                        else:
                            counts[index] += 1
        return counts, unreadable

    async def check_keys(self, where: str | None = None) -> None:
        """Decrypt one stored secret of each kind: keys that cannot are refused now, with one
        line, instead of failing every delivery later."""
        async with self.engine.connect() as conn:
            for table, names in encrypted_columns():
                row = (await conn.execute(select(*(table.c[n] for n in names)).limit(1))).first()
                if row is None:
                    continue
                try:
                    for value in row:
                        self.keyring.decrypt(value)
                except DecryptionError:
                    raise DecryptionError(
                        f"the secrets stored in {where or self.url} cannot be decrypted with "
                        f"the configured keys ({self._key_source()}): were they replaced?"
                    ) from None

    def _key_source(self) -> str:
        if self.keyring.path is not None:
            return f"the key file {self.keyring.path}"
        return ENV_KEYS if self.keyring.from_env else "the keyring given"

    async def rotate_keys(self, new_key: str | None = None, *, add: bool = True) -> int:
        """Add ``new_key`` (or a generated one, for a key file) as the newest key and re-encrypt
        every encrypted column under it, in one transaction. Returns the rows re-encrypted.
        With ``add=False`` no key is added: everything is re-encrypted under the newest key
        already there (keys from ``RELAY_SECRET_KEYS``, with the new one put first).

        Other processes reading a key file pick the new key up when they meet a row they cannot
        decrypt, but keep encrypting under their newest key until restarted: restart them
        before an old key is dropped. With ``RELAY_SECRET_KEYS``, put the new key first there.
        """
        if add:
            self.keyring.add_key(new_key)
        count = 0
        async with writer(self.engine).begin() as conn:
            for table, names in encrypted_columns():
                keys = list(table.primary_key.columns)
                rows = (await conn.execute(select(*keys, *(table.c[n] for n in names)))).all()
                for row in rows:
                    values = {n: self.keyring.reencrypt(row._mapping[n]) for n in names}
                    where = [k == row._mapping[k.name] for k in keys]
                    await conn.execute(update(table).where(*where).values(values))
                    count += 1
        return count
