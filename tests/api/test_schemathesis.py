"""schemathesis against the served OpenAPI document (/api/v1/schema/), authenticated with a real partner
key: no operation answers 500, and every answer matches the document (status, content type, headers, body).

Bounded for CI: a few examples per operation. The four operations that call Salesforce or the provider
live (test, validate, sync, send-template) are left out here, because generated input would send them to
made-up hosts; tests/api/test_configuration.py and test_messaging.py run them against the sandbox.
Nothing is sent by the other operations either: tasks queued on commit never run inside a test transaction.
"""

from __future__ import annotations

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

LIVE_OPERATIONS = [
    "salesforce_connections_test_create",
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
def partner_key(world, wsgi_in_test_transaction):
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
