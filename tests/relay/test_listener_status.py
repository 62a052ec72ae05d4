"""What the wizard's health check says about the listener, from the tenant's ListenerCursor."""

from datetime import timedelta

import pytest
from django.utils import timezone

from portal.console.wizard.health import ERROR, OK, WARN, listener_status
from relay.models import ListenerCursor
from tests.factories import make_tenant

pytestmark = pytest.mark.django_db

TOPIC = "/event/Switchboard_Interaction__e"
NOW = timezone.now()


@pytest.mark.parametrize(
    ("cursor", "state", "says"),
    [
        (None, WARN, "no listener has subscribed yet"),
        ({"deliver_since": NOW}, WARN, "no listener has subscribed yet"),
        ({"topic": "/event/Old__e", "subscribed_at": NOW}, WARN, "no listener has subscribed yet"),
        ({"subscribed_at": NOW}, OK, "Subscribed to /event/Switchboard_Interaction__e since"),
        ({"subscribed_at": NOW, "last_error": "no new access token could be minted"}, ERROR, "minted"),
        ({"last_error": "Pub/Sub UNAVAILABLE"}, ERROR, "The listener reports: Pub/Sub UNAVAILABLE"),
        ({"subscribed_at": NOW, "gap": "Agent messages ... may be lost", "gap_at": NOW}, WARN, "may be lost"),
        ({"subscribed_at": NOW, "gap": "may be lost", "gap_at": NOW - timedelta(days=8)}, OK, "Subscribed"),
    ],
)
def test_listener_status(cursor, state, says):
    tenant = make_tenant()
    if cursor is not None:
        ListenerCursor.objects.create(tenant=tenant, **{"topic": TOPIC, **cursor})
    check = listener_status(tenant, TOPIC)
    assert check.state == state
    assert says in check.detail
