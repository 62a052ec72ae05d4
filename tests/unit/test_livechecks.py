"""portal/livechecks.py: a live check is queued (never run in the request when a worker runs them), found
only by its tenant, one per tenant and kind in flight, bounded per tenant in the workers, reported lost
when no worker finished it, and a secret it carries is sealed and handed out once."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from portal import livechecks
from portal.celery import app as celery_app
from tests.factories import ORG_B, make_tenant

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued_only():
    """As in production: start() queues after commit (never, inside this test's transaction) and returns."""
    cache.clear()
    celery_app.conf.task_always_eager = False
    yield
    celery_app.conf.task_always_eager = True


@pytest.mark.usefixtures("queued_only")
def test_a_check_is_queued_not_run_and_one_per_tenant_and_kind_is_in_flight():
    acme, globex = make_tenant("Acme"), make_tenant("Globex", ORG_B)
    first = livechecks.start(acme, "salesforce-login")
    assert first.state == livechecks.QUEUED and first.ok is None and not first.ran_in
    assert livechecks.start(acme, "salesforce-login").id == first.id  # joins the one in flight
    assert livechecks.start(acme, "health").id != first.id  # another kind
    assert livechecks.start(globex, "salesforce-login").id != first.id  # another tenant
    assert (
        livechecks.start(acme, "provider-key", dedupe=False).id
        != livechecks.start(acme, "provider-key", dedupe=False).id
    )
    assert livechecks.latest(acme, "salesforce-login").id == first.id


@pytest.mark.usefixtures("queued_only")
def test_a_check_is_found_only_by_its_tenant_and_a_well_formed_id():
    acme, globex = make_tenant("Acme"), make_tenant("Globex", ORG_B)
    check = livechecks.start(acme, "health")
    assert livechecks.get(acme, check.id).id == check.id
    assert livechecks.get(globex, check.id) is None
    for bad in ("", "not-a-uuid", "../x", check.id + "0"):
        assert livechecks.get(acme, bad) is None


@pytest.mark.usefixtures("queued_only")
def test_a_check_no_worker_finished_is_reported_lost_and_can_be_asked_again(settings):
    acme = make_tenant("Acme")
    check = livechecks.start(acme, "health")
    old = livechecks.Check(
        **{**asdict(check), "created_at": (timezone.now() - timedelta(hours=1)).isoformat()}
    )
    livechecks._save(old)
    lost = livechecks.get(acme, check.id)
    assert (lost.state, lost.ok) == (livechecks.DONE, False) and "did not finish" in lost.message
    assert livechecks.start(acme, "health").id != check.id  # a new one, not the lost one


@pytest.mark.usefixtures("queued_only")
def test_a_secret_is_sealed_never_public_and_handed_out_once():
    acme = make_tenant("Acme")
    check = livechecks.start(acme, "provider-key", params={"provider": "infobip"}, secrets={"api_key": "s3cr3t-key"},
                             dedupe=False)  # fmt: skip
    stored = cache.get(f"livecheck:{check.id}")
    assert "s3cr3t-key" not in repr(stored) and stored["sealed"]
    assert "s3cr3t-key" not in repr(check.public()) and "params" not in check.public()
    assert livechecks.consume_secrets(livechecks.get(acme, check.id)) == {"api_key": "s3cr3t-key"}
    assert livechecks.consume_secrets(livechecks.get(acme, check.id)) == {}


def test_a_tenants_checks_hold_at_most_their_slots_in_the_workers(settings):
    cache.clear()
    settings.LIVE_CHECKS_PER_TENANT = 2
    taken = [livechecks._take_slot(1, f"check-{i}") for i in range(3)]
    assert taken[0] and taken[1] and taken[2] is None  # the third waits (the task retries in a second)
    assert livechecks._take_slot(2, "other-tenant") is not None  # another tenant is not held up
    cache.delete(taken[0])
    assert livechecks._take_slot(1, "check-3") is not None


def test_with_celery_eager_the_check_has_run_when_start_returns():
    cache.clear()
    acme = make_tenant("Acme")  # no Salesforce connection: the check answers without calling out
    check = livechecks.start(acme, "salesforce-login")
    assert check.done and check.ok is False and "first" in check.message
