"""The hot commands of the shared cache (portal/shared_cache.py): with Redis, one client per process, reading and
writing the very entries Django's cache API does (same keys, same encoding); with any other cache, Django's
cache API itself. Needs a Redis server (the broker's, when it is Redis); skipped without one."""

from __future__ import annotations

import os
import uuid

import pytest
import redis
from django.core.cache import cache
from django.test import override_settings

from portal import shared_cache
from relay import tasks
from relay.lines import wake
from tenants import config_cache, lookups
from tests.factories import make_account, make_tenant

REDIS_URL = os.environ.get("CACHE_URL", "")
if not REDIS_URL.startswith("redis://"):
    REDIS_URL = os.environ.get("CELERY_BROKER_URL", "")


def _redis_answers() -> bool:
    if not REDIS_URL.startswith("redis://"):
        return False
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


@pytest.fixture
def redis_cache():
    if not _redis_answers():
        pytest.skip("no Redis server: CACHE_URL or CELERY_BROKER_URL names none that answers")
    prefix = f"test-{uuid.uuid4().hex[:8]}"  # this test's own keys, whoever else uses the database
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": prefix,
        }
    }
    with override_settings(CACHES=caches):
        yield cache
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{prefix}:*"))
        if keys:
            client.delete(*keys)


def test_the_same_entries_as_the_cache_api(redis_cache):
    shared_cache.set("token", "abc", timeout=None)
    assert redis_cache.get("token") == "abc"
    redis_cache.set("token", "from-the-api", timeout=None)
    assert shared_cache.get("token") == "from-the-api"
    assert shared_cache.get("never-set") is None
    assert shared_cache.add("mark", 1, timeout=60) is True
    assert shared_cache.add("mark", 1, timeout=60) is False  # SET NX: the first one holds
    assert redis_cache.get("mark") == 1
    shared_cache.delete("mark")
    assert redis_cache.get("mark") is None and shared_cache.add("mark", 1, timeout=60) is True


def test_a_mark_expires_as_asked(redis_cache):
    shared_cache.add("mark", 1, timeout=30)
    key = redis_cache.make_and_validate_key("mark")
    assert 0 < redis.Redis.from_url(REDIS_URL).ttl(key) <= 30


def test_one_client_for_every_command(redis_cache, monkeypatch):
    shared_cache.get("warm")  # the process's client, made once
    made = []
    real_init = redis.Redis.__init__

    def counting(self, *args, **kwargs):
        made.append(1)
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(redis.Redis, "__init__", counting)
    for n in range(5):
        shared_cache.set("token", f"v{n}", timeout=None)
        shared_cache.get("token")
        shared_cache.add(f"mark-{n}", 1, timeout=60)
        shared_cache.delete(f"mark-{n}")
    assert made == []
    redis_cache.get("token")  # Django's own API builds a client per command: what the hot path no longer pays
    assert made == [1]


@pytest.mark.django_db
def test_the_configuration_and_the_wakes_over_redis(redis_cache, monkeypatch):
    config_cache.clear_local()
    account = make_account(make_tenant())
    assert lookups.webhook_account(account.provider, account.webhook_key).pk == account.pk
    token = redis_cache.get(config_cache.VERSION_KEY)
    assert token  # the token a process wrote through shared_cache, read through Django's API
    queued = []
    monkeypatch.setattr(tasks.deliver_inbound, "delay", lambda pk: queued.append(pk))
    wake.inbound_line(7)
    wake.inbound_line(7)  # a task is queued for the line: nothing more
    wake.finished("in", 7)
    wake.inbound_line(7)
    wake.finished("in", 7)
    assert queued == [7, 7]
