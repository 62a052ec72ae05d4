"""Encryption of secrets at rest with rotating Fernet keys.

Each stored value names the key that encrypted it: ``fernet:<key id>:<token>``, where the key id is
a short fingerprint of the key. ``ENCRYPTION_KEYS`` lists keys newest first; values are encrypted
with the newest and decrypted with the key they name, so an old key can be retired once
``manage.py rotate_encryption_keys`` has re-encrypted every row.
"""

from __future__ import annotations

import hashlib
import logging
import os
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger(__name__)

PREFIX = "fernet"


class DecryptionError(Exception):
    """A stored secret names a key we no longer have, or its token is corrupt."""


def key_id(key: str | bytes) -> str:
    raw = key.encode() if isinstance(key, str) else key
    return hashlib.sha256(raw).hexdigest()[:8]


def _dev_key() -> str:
    """In DEBUG without configured keys: one key generated into var/ on first use (never from SECRET_KEY)."""
    path = settings.DEV_ENCRYPTION_KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(Fernet.generate_key().decode())
        log.warning("Generated a development encryption key in %s; set ENCRYPTION_KEYS in production.", path)
    return path.read_text().strip()


class KeyRing:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ImproperlyConfigured("No encryption key: set ENCRYPTION_KEYS.")
        try:
            self._fernets = [(key_id(k), Fernet(k.encode())) for k in keys]
        except ValueError as exc:
            raise ImproperlyConfigured(
                "ENCRYPTION_KEYS must be url-safe base64 Fernet keys (32 bytes)."
            ) from exc
        self._by_id = dict(self._fernets)

    @property
    def current_id(self) -> str:
        return self._fernets[0][0]

    def encrypt(self, plaintext: str) -> str:
        kid, fernet = self._fernets[0]
        return f"{PREFIX}:{kid}:{fernet.encrypt(plaintext.encode()).decode()}"

    def decrypt(self, stored: str) -> str:
        prefix, kid, token = self.parse(stored)
        fernet = self._by_id.get(kid)
        if fernet is None:
            raise DecryptionError(f"secret was encrypted with key {kid}, which is not in ENCRYPTION_KEYS")
        try:
            return fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise DecryptionError(f"secret encrypted with key {kid} is corrupt") from exc

    @staticmethod
    def parse(stored: str) -> tuple[str, str, str]:
        parts = stored.split(":", 2)
        if len(parts) != 3 or parts[0] != PREFIX:
            raise DecryptionError("value is not an encrypted secret")
        return parts[0], parts[1], parts[2]

    def needs_rotation(self, stored: str) -> bool:
        return self.parse(stored)[1] != self.current_id


@cache
def _keyring_for(keys: tuple[str, ...]) -> KeyRing:
    return KeyRing(list(keys))


def keyring() -> KeyRing:
    keys = tuple(settings.ENCRYPTION_KEYS) or (_dev_key(),)
    return _keyring_for(keys)


def generate_key() -> str:
    return Fernet.generate_key().decode()
