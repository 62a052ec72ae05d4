"""A media URL in a webhook that Python's and httpx's URL parsers read differently (or cannot read) is a
permanent error of the download, like any other URL Switchboard will not fetch: the desk then gives the
agent a link note and the message is delivered. Before, ``urlsplit``'s ValueError (a port that is not a
number or out of range, a broken IPv6 literal) and httpx's InvalidURL or IDNA errors (a tab or control
character ``urlsplit`` silently drops, an empty Punycode label) escaped as internal errors: the customer's
message was retried and then failed, and the next message waited behind it meanwhile.

No network: each URL is refused before any connection (the account's own endpoint records no request).
"""

from __future__ import annotations

import pytest

from relay import http
from relay.errors import ExternalError
from relay.providers.registry import get_provider
from tenants.models import ProviderAccount
from tests.relay.egress_support import LocalEndpoint

infobip = get_provider("infobip")

MALFORMED = {
    "port not a number": "https://files.infobip.com:abc/receipt.png",
    "port out of range": "https://files.infobip.com:99999/receipt.png",
    "negative port": "https://files.infobip.com:-1/receipt.png",
    "broken IPv6 literal": "https://[::1/receipt.png",
    "broken IPv6 literal on the media path": "https://[::1/whatsapp/1/senders/447860099299/media/5d6b1e0c",
    "tab in the host (urlsplit drops it)": "https://evil\t.files.infobip.com/receipt.png",
    "control character in the path": "https://files.infobip.com/a\x01b.png",
    "empty Punycode label": "https://xn--.infobip.com/receipt.png",
}


@pytest.mark.parametrize("url", MALFORMED.values(), ids=list(MALFORMED))
def test_a_malformed_media_url_is_a_permanent_refusal_and_nothing_is_fetched(url):
    with LocalEndpoint() as account_host:
        account = ProviderAccount(provider="infobip", base_url=account_host.url, api_key="ib-key")
        with pytest.raises(ExternalError) as caught:
            infobip.download_media(account, url)
        assert caught.value.permanent, caught.value
        assert account_host.requests == []


@pytest.mark.parametrize(
    "url",
    [
        "https://files.example.com/a\x01b",
        "https://[::1/x",
        "https://xn--.example.com/x",
        "https://a.example.com:abc/",
    ],
)
@pytest.mark.parametrize("system", ["salesforce", "provider", "partner"])
def test_every_outbound_kind_answers_an_unreadable_url_with_a_permanent_error(system, url):
    with pytest.raises(ExternalError) as caught:
        http.request(system, "GET", url)
    assert caught.value.permanent and caught.value.code == http.INVALID_URL
    with pytest.raises(ExternalError):
        http.status_only(system, "POST", url)
