"""A vendor's error answer is classified by its status whatever its body holds: 408, 429 and 5xx are
transient (Retry-After kept), other 4xx permanent, and the classification never becomes an exception of our
own. Infobip documents two envelopes (providers.md §1: ``requestError.serviceException`` and the E-code
``{errorCode, description, violations[]}``); 8x8 ``{code, message, errorId, timestamp}``. A body of another
shape (a proxy's, a gateway's) was an AttributeError/TypeError in Infobip's reader: a 429 or 503 then counted
as Switchboard's own error and failed the message after RELAY_MAX_INTERNAL_ERRORS tries."""

from __future__ import annotations

import httpx
import pytest

from relay.errors import ExternalError
from relay.providers.eightbyeight.client import raise_for_error as eightbyeight_raise
from relay.providers.infobip.client import raise_for_error as infobip_raise

ODD_BODIES = [
    {"requestError": "Too many requests"},
    {"requestError": ["Service unavailable"]},
    {
        "requestError": {
            "serviceException": {"messageId": "BAD_REQUEST", "validationErrors": ["content.text"]}
        }
    },
    {"requestError": {"serviceException": "Bad request"}},
    {"errorCode": "E429", "violations": 3},
    {"errorCode": "E400", "violations": {"property": "to"}},
    {"errorCode": ["E400"], "description": {"text": "odd"}},
    {"code": {"nested": 1}, "message": ["odd"]},
    ["not", "an", "object"],
    "plain text",
    None,
]


@pytest.mark.parametrize("raise_for_error", [infobip_raise, eightbyeight_raise], ids=["infobip", "8x8"])
@pytest.mark.parametrize("status", [400, 404, 408, 429, 500, 503])
@pytest.mark.parametrize("body", ODD_BODIES)
def test_any_error_body_is_classified_by_its_status(raise_for_error, status, body):
    response = httpx.Response(status, json=body, headers={"Retry-After": "7"})
    with pytest.raises(ExternalError) as caught:
        raise_for_error(response, "the whatsapp message")
    error = caught.value
    transient = status in (408, 429) or status >= 500
    assert error.permanent is not transient
    assert error.status == status and error.message
    if transient:
        assert error.retry_after == 7.0
