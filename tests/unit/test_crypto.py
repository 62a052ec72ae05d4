"""Secrets are encrypted at rest under rotating keys and never shown back."""

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from tenants.crypto import DecryptionError, KeyRing, key_id, keyring
from tenants.models import ProviderAccount
from tests.factories import make_account, make_tenant

pytestmark = pytest.mark.django_db


def raw_column(model, pk, column):
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {model._meta.db_table} WHERE id = %s", [pk])  # noqa: S608
        return cursor.fetchone()[0]


def test_secret_round_trips_and_is_not_plaintext_in_the_database():
    account = make_account(make_tenant(), api_key="ib-secret-api-key")
    stored = raw_column(ProviderAccount, account.pk, "api_key")
    assert "ib-secret-api-key" not in stored
    assert stored.startswith(f"fernet:{keyring().current_id}:")
    assert ProviderAccount.objects.get(pk=account.pk).api_key == "ib-secret-api-key"


def test_secret_repr_is_masked():
    account = ProviderAccount.objects.get(pk=make_account(make_tenant(), api_key="ib-secret-api-key").pk)
    assert "ib-secret-api-key" not in repr(account.api_key)
    assert "ib-secret-api-key" not in repr(account.__dict__)


def test_value_names_the_key_and_an_unknown_key_is_a_clear_error():
    old = Fernet.generate_key().decode()
    stored = KeyRing([old]).encrypt("s3cret")
    assert stored.split(":")[1] == key_id(old)
    with pytest.raises(DecryptionError, match="not in ENCRYPTION_KEYS"):
        KeyRing([Fernet.generate_key().decode()]).decrypt(stored)


def test_rotation_reencrypts_rows_under_the_newest_key(settings):
    tenant = make_tenant()
    old_key, new_key = settings.ENCRYPTION_KEYS[1], Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old_key]
    account = make_account(tenant, api_key="rotate-me")
    assert raw_column(ProviderAccount, account.pk, "api_key").startswith(f"fernet:{key_id(old_key)}:")

    settings.ENCRYPTION_KEYS = [new_key, old_key]
    assert ProviderAccount.objects.get(pk=account.pk).api_key == "rotate-me"  # old key still decrypts
    call_command("rotate_encryption_keys")
    assert raw_column(ProviderAccount, account.pk, "api_key").startswith(f"fernet:{key_id(new_key)}:")
    assert raw_column(ProviderAccount, account.pk, "webhook_secret").startswith(f"fernet:{key_id(new_key)}:")

    settings.ENCRYPTION_KEYS = [new_key]  # the old key can now be retired
    assert ProviderAccount.objects.get(pk=account.pk).api_key == "rotate-me"


def test_dumpdata_never_carries_plaintext(capsys):
    make_account(make_tenant(), api_key="dump-me-not")
    call_command("dumpdata", "tenants.provideraccount")
    assert "dump-me-not" not in capsys.readouterr().out
