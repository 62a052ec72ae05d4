"""Tenant configuration rules: ids, senders, routing rules and API keys."""

import pytest
from django.core.exceptions import ValidationError

from tenants.models import ApiKey, RoutingRule, SalesforceConnection, Sender, Tenant
from tests.factories import ORG_A, ORG_B, make_account, make_sender, make_tenant

pytestmark = pytest.mark.django_db


def test_org_id_is_stored_with_its_checksum():
    assert make_tenant(org_id=ORG_A).org_id == ORG_A + "EAS"


def test_the_same_org_cannot_be_two_tenants():
    make_tenant(org_id=ORG_A)
    with pytest.raises(ValidationError) as excinfo:
        Tenant(name="Again", slug="again", org_id=ORG_A + "EAS").full_clean()
    assert "org_id" in excinfo.value.message_dict


def test_whatsapp_sender_accepts_infobip_form_and_stores_e164():
    sender = make_sender(make_account(make_tenant()), address="447860099299")
    assert sender.address == "+447860099299"


def test_sender_with_invalid_number_is_refused_with_a_field_error():
    account = make_account(make_tenant())
    with pytest.raises(ValidationError) as excinfo:
        make_sender(account, address="+4478")
    assert "not a valid sender number" in excinfo.value.message_dict["address"][0]
    assert not Sender.objects.exists()


def test_alphanumeric_sms_sender_is_limited_to_11_characters():
    account = make_account(make_tenant())
    assert make_sender(account, address="ACME", channel="sms").address == "ACME"
    with pytest.raises(ValidationError, match="at most 11 characters"):
        make_sender(account, address="ACMESUPPORTDESK", channel="sms")


def test_sender_cannot_use_another_tenants_account():
    other_account = make_account(make_tenant("Globex", ORG_B))
    sender = Sender(tenant=make_tenant(), account=other_account, channel="whatsapp", address="+447860099299")
    with pytest.raises(ValidationError) as excinfo:
        sender.full_clean()
    assert "another tenant" in excinfo.value.message_dict["account"][0]


def test_routing_rule_needs_a_valid_target_of_the_right_kind():
    sender = make_sender(make_account(make_tenant()))
    rule = RoutingRule(tenant=sender.tenant, sender=sender, target_type="queue", target_id="0058d000000AbCd")
    with pytest.raises(ValidationError) as excinfo:
        rule.full_clean()
    assert "starts with 00G" in excinfo.value.message_dict["target_id"][0]
    rule.target_type, rule.target_id = "agent", ""
    with pytest.raises(ValidationError) as excinfo:
        rule.full_clean()
    assert "Choose the user" in excinfo.value.message_dict["target_id"][0]


def test_routing_rule_customer_pattern():
    sender = make_sender(make_account(make_tenant()))
    rule = RoutingRule(tenant=sender.tenant, sender=sender, target_type="channel", customer_pattern="+4477*")
    rule.full_clean()
    assert rule.matches("+447712345678") and not rule.matches("+385919998888")
    rule.customer_pattern = "+44; DROP"
    with pytest.raises(ValidationError, match="wildcards"):
        rule.full_clean()


def test_scrt_url_is_derived_from_my_domain_and_audience_from_environment():
    connection = SalesforceConnection(tenant=make_tenant(), instance_url="https://acme.my.salesforce.com")
    assert connection.interaction_base_url == "https://acme.my.salesforce-scrt.com"
    assert connection.token_url == "https://login.salesforce.com/services/oauth2/token"
    connection.environment = "sandbox"
    assert connection.audience == "https://test.salesforce.com"


def test_webhook_key_is_unguessable_and_unique_per_account():
    tenant = make_tenant()
    first, second = make_account(tenant), make_account(tenant, name="Second")
    assert len(first.webhook_key) >= 32 and first.webhook_key != second.webhook_key


def test_api_keys_are_stored_hashed_and_revocable():
    key, plaintext = ApiKey.issue(name="CI", tenant=make_tenant())
    assert plaintext not in (key.digest, key.lookup) and plaintext.startswith("sb_")
    assert ApiKey.authenticate(plaintext) == key
    assert ApiKey.authenticate(plaintext[:-1] + ("x" if plaintext[-1] != "x" else "y")) is None
    key.revoke()
    assert ApiKey.authenticate(plaintext) is None
