"""The fields an 8x8 account needs (sub-account id, account id) and 8x8 senders named by channel id."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from tenants.models import Sender
from tenants.validators import validate_channel_id, validate_provider_account_id, validate_subaccount_id
from tests.factories import make_account, make_tenant

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("value", ["Acme_ChatApps", "abc", "a.b-c&d_e", "x" * 50])
def test_subaccount_ids_8x8_allows(value):
    validate_subaccount_id(value)


@pytest.mark.parametrize("value", ["ab", "x" * 51, "has space", "slash/sub", "ümlaut", "a\nb"])
def test_subaccount_ids_8x8_refuses(value):
    with pytest.raises(ValidationError):
        validate_subaccount_id(value)


@pytest.mark.parametrize(
    ("validator", "good", "bad"),
    [
        (validate_provider_account_id, "0f1d2c3b-4a59-4687-a7b8-c9d0e1f2a3b4", "not-a-uuid"),
        (
            validate_provider_account_id,
            "0f1d2c3b4a594687a7b8c9d0e1f2a3b4",
            "0f1d2c3b-4a59-4687-a7b8-c9d0e1f2a3b",
        ),
    ],
)
def test_account_ids_are_uuids(validator, good, bad):
    validator(good)
    with pytest.raises(ValidationError):
        validator(bad)


def test_an_8x8_sender_is_its_channel_id_on_every_channel():
    account = make_account(
        make_tenant(), provider="8x8", base_url="https://chatapps.8x8.com", webhook_auth="basic"
    )
    for channel in ("whatsapp", "sms", "viber"):
        sender = Sender(
            tenant=account.tenant,
            account=account,
            channel=channel,
            address=" EC36A867-3DD4-E911-814A-02D85F55FCE8 ",
        )
        sender.full_clean()
        assert sender.address == "ec36a867-3dd4-e911-814a-02d85f55fce8"
    wrong = Sender(tenant=account.tenant, account=account, channel="whatsapp", address="+447860099299")
    with pytest.raises(ValidationError) as refused:
        wrong.full_clean()
    assert "channel id" in str(refused.value)
    assert (
        validate_channel_id("EC36A867-3DD4-E911-814A-02D85F55FCE8") == "ec36a867-3dd4-e911-814a-02d85f55fce8"
    )


def test_infobip_senders_are_still_numbers():
    account = make_account(make_tenant())
    sender = Sender(tenant=account.tenant, account=account, channel="whatsapp", address="447860099299")
    sender.full_clean()
    assert sender.address == "+447860099299"
