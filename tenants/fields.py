"""Model fields for secrets: encrypted in the database, masked in every repr."""

from __future__ import annotations

from django.db import models

from .crypto import keyring


class Secret(str):
    """A decrypted secret. Behaves as ``str`` but never shows itself in reprs, tracebacks or debug pages."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('********')"


class EncryptedTextField(models.TextField):
    """Stores ``fernet:<key id>:<token>``; Python code sees a :class:`Secret` (or '' when unset)."""

    description = "Encrypted text"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", True)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        if not value:
            return Secret("")
        return Secret(keyring().decrypt(value))

    def to_python(self, value):
        if value is None or isinstance(value, Secret):
            return value
        return Secret(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return ""
        return keyring().encrypt(str(value))

    def value_to_string(self, obj):
        return ""  # serializers (dumpdata) never carry plaintext secrets
