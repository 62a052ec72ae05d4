"""A query's next page is fetched with the access token: only a query path on the instance is followed."""

from __future__ import annotations

import pytest

from relay.errors import ExternalError
from relay.salesforce.rest import SalesforceRest

pytestmark = pytest.mark.unit

INSTANCE = "https://acme.my.salesforce.com"


def rest() -> SalesforceRest:
    client = SalesforceRest.__new__(SalesforceRest)  # the instance URL is all the check reads
    client.instance_url = INSTANCE
    return client


@pytest.mark.parametrize(
    "path",
    [
        "/services/data/v63.0/query/01gD0000002HU6KIAW-2000",
        "/services/data/v63.0/tooling/query/01gD0000002HU6KIAW-200",
        "/services/data/v59.0/queryAll/01gD0000002HU6KIAW-4000",
    ],
)
def test_a_query_path_is_followed_on_the_instance(path):
    assert rest()._next_page(path) == INSTANCE + path


@pytest.mark.parametrize(
    "path",
    [
        "@evil.example/services/data/v63.0/query/01g-2000",  # acme.my.salesforce.com@evil.example: another host
        ".evil.example/services/data/v63.0/query/01g-2000",
        ":8443@evil.example/services/data/v63.0/query/01g-2000",
        "https://evil.example/services/data/v63.0/query/01g-2000",
        "//evil.example/services/data/v63.0/query/01g-2000",
        "/services/data/v63.0/query/01g-2000/../../../../sobjects/User",
        "/services/data/v63.0/query/01g-2000?q=x",
        "/services/data/v63.0/query/01g-2000#x",
        "",
        None,
        ["/services/data/v63.0/query/01g-2000"],
    ],
)
def test_anything_else_is_a_permanent_error_and_nothing_is_sent(path):
    with pytest.raises(ExternalError) as refused:
        rest()._next_page(path)
    assert refused.value.permanent
    assert "nextRecordsUrl" in str(refused.value)
