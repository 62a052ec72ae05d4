"""schemathesis against the served OpenAPI document (/api/v1/schema/), authenticated with a real partner
key: no operation answers 500, and every answer matches the document (status, content type, headers, body).

Bounded for CI: a few examples per operation. The five operations that call Salesforce or the provider
live (test, check, validate, sync, send-template) are left out here, because generated input would send them to
made-up hosts; tests/api/test_configuration.py and test_messaging.py run them against the sandbox.
Nothing is sent by the other operations either: tasks queued on commit never run inside a test transaction.
"""

from __future__ import annotations

import socket

import pytest
import schemathesis
from django.conf import settings
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from portal import egress

LIVE_OPERATIONS = [
    "salesforce_connections_test_create",
    "salesforce_connections_check_create",
    "provider_accounts_validate_create",
    "senders_sync_create",
    "messages_send_template_create",
]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture
def wsgi_in_test_transaction(db):
    """Serve requests as Django's test client does: a request's end must not close the test's connection."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


# Loaded when the module is collected (schemathesis' lazy fixture loader does not run on pytest 9).
schema = schemathesis.openapi.from_wsgi("/api/v1/schema/?format=json", get_wsgi_application()).exclude(
    operation_id=LIVE_OPERATIONS
)


@pytest.fixture
def resolver_answers_at_once(monkeypatch):
    """This machine has no DNS: a lookup of each generated host name (the URL validators resolve what they
    are given) waited for the resolver's timeout, three minutes of the suite. A resolver that answers "no
    such host" at once, as an online one does for a made-up name, keeps the same refusals."""
    real = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if host in ("localhost", "testserver") or egress.literal_address(str(host)) is not None:
            return real(host, *args, **kwargs)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def partner_key(world, wsgi_in_test_transaction, resolver_answers_at_once):
    with override_settings(
        REST_FRAMEWORK={
            **settings.REST_FRAMEWORK,
            "DEFAULT_THROTTLE_RATES": {"partner_api": "100000/min", "partner_api_send": "100000/min"},
        }
    ):
        yield world.key_a


@schema.parametrize()
@hypothesis_settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_the_api_keeps_to_its_openapi_document(case, partner_key):
    case.call_and_validate(headers={"Authorization": f"Bearer {partner_key}"}, checks=CHECKS)
