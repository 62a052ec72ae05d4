"""While the database is unreachable, webhooks and API calls get 503 with Retry-After (the sender retries),
never a 500; other errors are not disguised as outages."""

from __future__ import annotations

import json

import pytest
from django.db import InterfaceError, OperationalError
from django.db.backends.utils import CursorWrapper

pytestmark = pytest.mark.django_db


def _fail_every_query(monkeypatch, error: Exception) -> None:
    def execute(self, *args, **kwargs):
        raise error

    monkeypatch.setattr(CursorWrapper, "execute", execute)
    monkeypatch.setattr(CursorWrapper, "executemany", execute)


@pytest.mark.parametrize(
    "error", [OperationalError("server closed the connection"), InterfaceError("closed")]
)
@pytest.mark.parametrize(
    "path", ["/webhooks/infobip/some-account-key/", "/handover/some-endpoint/", "/api/v1/tenants/"]
)
def test_an_unreachable_database_is_a_503_with_retry_after(client, monkeypatch, error, path):
    _fail_every_query(monkeypatch, error)
    response = client.post(
        path,
        data=json.dumps({"results": []}),
        content_type="application/json",
        HTTP_AUTHORIZATION="Bearer sb_0123456789abcdef" + "k" * 24,  # well formed: looked up (a query)
    )
    assert response.status_code == 503
    assert response["Retry-After"] == "30"
    body = response.json()
    message = body["error"]["message"] if isinstance(body["error"], dict) else body["error"]
    assert "Retry later" in message
