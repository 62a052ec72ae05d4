"""An error answer from Salesforce is read only up to relay.http.ERROR_BODY_MAX_BYTES: a 50 MB error
body (a proxy's page, a misconfigured or hostile host) is never read whole, by the Enhanced Chat and Legacy Chat
API clients, the Enhanced Chat check, or the REST client the Cases desk writes its records with."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from relay import http
from relay.desks.enhanced_chat_api import EnhancedChatApi
from relay.desks.enhanced_chat_check import check_enhanced_chat
from relay.desks.livechat_api import ChatApi
from relay.errors import ExternalError
from relay.salesforce.auth import cache_key
from relay.salesforce.rest import SalesforceRest
from tenants.models import SalesforceConnection
from tests.factories import make_tenant
from tests.relay.huge_answers import NOT_READ_WHOLE, HugeAnswers
from tests.relay.salesforce_support import key_pair


@pytest.fixture
def huge_errors(settings):
    with HugeAnswers(500) as host:
        settings.EGRESS_ALLOWED_HOSTS = [host.url.removeprefix("http://")]
        yield host


def test_an_error_body_is_read_up_to_the_bound_and_the_connection_dropped(huge_errors):
    response = http.request("salesforce", "POST", f"{huge_errors.url}/anything", json={})
    assert response.status_code == 500
    assert len(response.content) == http.ERROR_BODY_MAX_BYTES
    assert response.headers["content-length"] == str(http.ERROR_BODY_MAX_BYTES)  # not the declared 50 MB
    (sent,) = huge_errors.answers_sent(1)
    assert sent < NOT_READ_WHOLE


def test_the_enhanced_chat_api_and_its_check(huge_errors):
    api = EnhancedChatApi(huge_errors.url, "00D000000000001AAA", "Switchboard_Enhanced_Chat")
    with pytest.raises(ExternalError) as caught:
        api.send_text("token", "conversation-1", "message-1", "Hello")
    assert caught.value.status == 500 and "Internal Server Error" in caught.value.message
    check = check_enhanced_chat(huge_errors.url, "00D000000000001AAA", "Switchboard_Enhanced_Chat")
    assert "Enhanced Chat answered 500 (Internal Server Error)" in check.errors["scrt_url"]
    assert all(sent < NOT_READ_WHOLE for sent in huge_errors.answers_sent(2))


def test_the_legacy_chat_api(huge_errors):
    with pytest.raises(ExternalError) as caught:
        ChatApi(f"{huge_errors.url}/chat/rest").new_session()
    assert caught.value.status == 500
    assert len(caught.value.message) < 300  # what it shows of the body is a short excerpt
    (sent,) = huge_errors.answers_sent(1)
    assert sent < NOT_READ_WHOLE


@pytest.mark.django_db
def test_the_rest_client_of_the_cases_desk(huge_errors):
    private_key, certificate = key_pair()
    tenant = make_tenant()
    connection = SalesforceConnection.objects.create(
        tenant=tenant,
        login_url=huge_errors.url,
        instance_url=huge_errors.url,
        consumer_key="3MVG9-huge",
        integration_username="integration@acme.test",
        private_key=private_key,
        certificate=certificate,
    )
    cache.delete(cache_key(connection))  # the file cache outlives test runs: no token of an earlier one
    with pytest.raises(ExternalError) as caught:
        SalesforceRest(connection).create("Case", {"Subject": "Parcel"})
    assert caught.value.status == 500 and not caught.value.permanent
    (sent,) = huge_errors.answers_sent(1)
    assert sent < NOT_READ_WHOLE
