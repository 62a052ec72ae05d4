"""``python -m bench profile``: where one message's time goes, in one process, against PostgreSQL.

The sandbox runs as its own process; Switchboard's code runs here, so the profiler sees all of it:

1. ``webhook``: N signed webhooks through Django's full request handling (middleware included);
2. ``deliver``: each conversation's line delivered to the Interaction Service (the Celery task's body);
3. ``agent_event`` and ``send``: N agent events recorded (the listener's handler) and sent to Infobip;
4. ``reports``: a delivered and a read report webhook per agent message sent (2N webhooks);
5. ``notices``: the notices task sending those reports' acknowledgements to the Interaction Service.

For each part it prints the SQL statements per message, the Salesforce token mints, the reads of the
configuration's version token (``tenants/config_cache.py``) and the HTTP connections opened, the wall time
per message under the profiler, and the profile (pyinstrument when installed, else cProfile on CPU time) into
``var/bench/<name>/<part>.txt``. Every part then runs a second time on fresh messages with neither the
profiler nor the statement capture: ``wall_ms_per_message_unprofiled`` and ``cpu_ms_per_message`` (this
process's CPU time, all its threads; the sandbox is another process) are that pass's, the figures to compare
between two versions of the code. ``reports`` counts per report webhook, ``notices`` per acknowledgement.

``--database`` and ``--redis-db`` let several people profile at once on one PostgreSQL and one Redis.
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import hmac
import io
import json
import pstats
import sys
import time
from contextlib import contextmanager

import httpx

from .load import whatsapp_mo
from .run import accept_sessions
from .stack import Stack, StackConfig
from .tenants import (
    bench_tenant,
    create_in_switchboard,
    customer,
    key_pair,
    load_into_sandbox,
    sandbox_fixture,
)


@contextmanager
def profiled(name: str, out_dir, results: dict, count: int):
    """The part's statements, token mints, connections and wall time, under the profiler."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    import relay.salesforce.auth as auth
    from portal import shared_cache
    from tenants.config_cache import VERSION_KEY

    mints = {"n": 0, "config": 0}
    real_mint, real_get = auth.mint_token, shared_cache.get

    def counting_mint(conn):
        mints["n"] += 1
        return real_mint(conn)

    def counting_get(key):
        mints["config"] += key == VERSION_KEY
        return real_get(key)

    auth.mint_token = counting_mint  # counted, not changed: the real flow runs
    shared_cache.get = counting_get  # the configuration's version token: once per unit of work
    connects = _count_connections()
    connection.queries_log.clear()  # the log keeps 9,000 statements: start each part empty
    try:
        profiler = _profiler()
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            profiler.start()
            yield
            profiler.stop()
            elapsed = time.perf_counter() - started
    finally:
        auth.mint_token, shared_cache.get = real_mint, real_get
    statements: dict[str, int] = {}
    for query in queries.captured_queries:
        # None when Django could not compose the statement's text (a server-bound one whose parameters it
        # cannot render on the client): still a statement.
        verb = query["sql"].split()[0].upper() if query["sql"] else "(text not logged)"
        statements[verb] = statements.get(verb, 0) + 1
    results[name] = {
        "messages": count,
        "ms_per_message": elapsed / count * 1000,
        "sql_per_message": len(queries.captured_queries) / count,
        "sql_by_kind_per_message": {k: v / count for k, v in sorted(statements.items())},
        "token_mints": mints["n"],
        "config_token_reads_per_message": mints["config"] / count,
        "http_connections_opened": _count_connections() - connects,
    }
    (out_dir / f"{name}.txt").write_text(profiler.text())
    (out_dir / f"{name}.sql.txt").write_text(
        "\n".join(str(q["sql"]) for q in queries.captured_queries[: 40 * 3])
    )


@contextmanager
def timed(name: str, results: dict, count: int):
    """The part's wall and CPU time alone: the profiler and the statement capture cost more CPU than some parts
    themselves, so the profiled pass's time says where it goes, not how much there is."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    figures = {
        "wall_ms_per_message_unprofiled": wall / count * 1000,
        "cpu_ms_per_message": cpu / count * 1000,
    }
    part = results[name]  # the profiled pass came first: these go beside its wall time
    results[name] = {key: part.pop(key) for key in ("messages", "ms_per_message")} | figures | part


class _CProfile:
    """CPU time (the targets are CPU), not wall time, which a call's wait for the far end or the database fills."""

    def __init__(self) -> None:
        self.profile = cProfile.Profile(time.process_time)

    def start(self):
        self.profile.enable()

    def stop(self):
        self.profile.disable()

    def text(self) -> str:
        out = io.StringIO()
        stats = pstats.Stats(self.profile, stream=out)
        stats.sort_stats("cumulative").print_stats(60)
        stats.sort_stats("tottime").print_stats(40)
        return out.getvalue()


class _Pyinstrument:
    def __init__(self) -> None:
        from pyinstrument import Profiler

        self.profile = Profiler(interval=0.0005)

    def start(self):
        self.profile.start()

    def stop(self):
        self.profile.stop()

    def text(self) -> str:
        return self.profile.output_text(unicode=False, color=False, show_all=False)


def _profiler():
    try:
        return _Pyinstrument()
    except ImportError:
        return _CProfile()


_opened = {"n": 0}


def _count_connections() -> int:
    return _opened["n"]


def _watch_connections() -> None:
    """Count new TCP connections the relay's HTTP clients open (connection reuse shows as few)."""
    import httpcore

    real = httpcore.ConnectionPool._assign_requests_to_connections  # noqa: SLF001

    def counting(self, *args, **kwargs):
        before = len(self._connections)  # noqa: SLF001
        result = real(self, *args, **kwargs)
        _opened["n"] += max(0, len(self._connections) - before)  # noqa: SLF001
        return result

    httpcore.ConnectionPool._assign_requests_to_connections = counting  # noqa: SLF001


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bench profile", description=__doc__)
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--conversations", type=int, default=30)
    parser.add_argument("--name", default="profile", help="var/bench/<name>/ holds the profiles and results")
    parser.add_argument(
        "--database", default="switchboard_profile", help="PostgreSQL database (dropped and created)"
    )
    parser.add_argument(
        "--redis-db", type=int, default=7, help="Redis db for the broker (the cache uses the next)"
    )
    args = parser.parse_args(argv)
    stack = Stack(
        StackConfig(
            name=args.name,
            database=args.database,
            broker_db=args.redis_db,
            cache_db=args.redis_db + 1,
            beat=False,
        )
    )
    results: dict = {}
    try:
        stack.start_redis()
        stack.prepare_database()
        stack.django()
        stack.start_sandbox()
        _watch_connections()
        private_key, certificate = key_pair()
        tenant = bench_tenant(0)
        load_into_sandbox(stack.sandbox_url, sandbox_fixture([tenant], certificate, stack.web_url))
        create_in_switchboard([tenant], stack.sandbox_url, private_key, certificate)
        run_parts(stack, tenant, args, results)
    finally:
        stack.stop()
    print(json.dumps(results, indent=1))
    (stack.var / "results.json").write_text(json.dumps(results, indent=1))
    print(f"profiles: {stack.var}/*.txt")
    return 0


def run_parts(stack: Stack, tenant, args, results: dict) -> None:
    from django.test import Client

    from portal import fast_publish
    from portal.celery import app as celery_app
    from relay import tasks
    from relay.models import Conversation, Message, SalesforceNotice

    celery_app.conf.task_always_eager = False
    queued: dict[str, list[int]] = {"in": [], "out": [], "notices": []}
    real = {
        "in": tasks.deliver_inbound.delay,
        "out": tasks.deliver_outbound.delay,
        "notices": tasks.notify_salesforce.delay,
    }
    # No broker here: the wakes are collected, and each part runs the task bodies itself.
    tasks.deliver_inbound.delay = queued["in"].append
    tasks.deliver_outbound.delay = queued["out"].append
    tasks.notify_salesforce.delay = queued["notices"].append
    # A report's notices task is published with a countdown (relay/lines/wake.py): collected all the same.
    tasks.notify_salesforce.apply_async = lambda args, **options: queued["notices"].append(args[0])
    fast_publish._publisher = None  # noqa: SLF001 - Celery's own publish, collected above, whatever the broker
    try:
        client = Client(HTTP_HOST="127.0.0.1")
        warm = [_webhook(client, tenant, i, c) for i, c in enumerate(range(args.conversations))]
        assert all(code == 200 for code in warm), warm
        for conversation_id in set(queued["in"]):
            _as_task(tasks.deliver_inbound, conversation_id)
        queued["in"].clear()
        n = args.messages
        targets = {
            target["id"]: target
            for target in accept_sessions(
                stack,
                [tenant],
                [
                    {"id": conversation.pk, "tenant": 0, "customer": conversation.customer.lstrip("+")}
                    for conversation in Conversation.objects.all()
                ],
            )
        }
        _round(stack, tenant, args, results, client, queued, targets, first=1000, profile=True)
        _round(stack, tenant, args, results, client, queued, targets, first=1000 + n, profile=False)
    finally:
        tasks.deliver_inbound.delay = real["in"]
        tasks.deliver_outbound.delay = real["out"]
        tasks.notify_salesforce.delay = real["notices"]
        del tasks.notify_salesforce.apply_async
        fast_publish.forget()
    results["deliver"]["delivered"] = Message.objects.filter(direction="in", status="delivered").count()
    results["send"]["sent"] = Message.objects.filter(direction="out").exclude(provider_message_id="").count()
    results["reports"]["read"] = Message.objects.filter(direction="out", status="read").count()
    results["notices"]["acknowledged"] = SalesforceNotice.objects.filter(status="done").count()
    results["notices"]["pending"] = SalesforceNotice.objects.filter(status="pending").count()


def _round(
    stack, tenant, args, results: dict, client, queued: dict, targets: dict, *, first: int, profile: bool
) -> None:
    """Every part once, on messages numbered from ``first``: profiled, or timed alone."""
    from relay import tasks
    from relay.models import Conversation, Message
    from relay.outbound import record as outbound
    from relay.salesforce.pubsub import BATCH_SIZE
    from tenants import config_cache
    from tenants.models import Tenant

    def part(name: str, count: int):
        return profiled(name, stack.var, results, count) if profile else timed(name, results, count)

    n = args.messages
    with part("webhook", n):
        for i in range(n):
            _webhook(client, tenant, first + i, i % args.conversations)
    lines = list(dict.fromkeys(queued["in"]))
    queued["in"].clear()
    with part("deliver", n):
        for conversation_id in lines:
            _as_task(tasks.deliver_inbound, conversation_id)

    conversations = list(Conversation.objects.select_related("sender").order_by("pk"))
    bench = Tenant.objects.get(slug=tenant.slug)
    events = _agent_replies(stack, targets, conversations, first, n)
    with part("agent_event", n):
        # As the listener hands them on: a batch of at most BATCH_SIZE events per database job, each job a
        # configuration unit of work (relay/salesforce/pubsub.py).
        for start in range(0, n, BATCH_SIZE):
            with config_cache.unit_of_work():
                for event in events[start : start + BATCH_SIZE]:
                    outbound.record_agent_event(bench, event)
    lines = list(dict.fromkeys(queued["out"]))
    queued["out"].clear()
    with part("send", n):
        for conversation_id in lines:
            _as_task(tasks.deliver_outbound, conversation_id)

    # This round's agent messages, as Infobip knows them (the last round's have been read already).
    sent = list(
        Message.objects.filter(direction="out", status="sent")
        .exclude(provider_message_id="")
        .values_list("provider_message_id", "conversation__customer")
    )
    assert sent, "no agent message was sent: nothing to report"
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime())
    with part("reports", 2 * len(sent)):
        for message_id, phone in sent:
            _report(client, tenant, _delivered(message_id, phone, stamp))
            _report(client, tenant, _seen(message_id, phone, tenant.sender, stamp))
    wakes = list(dict.fromkeys(queued["notices"]))
    queued["notices"].clear()
    with part("notices", 2 * len(sent)):
        for message_id in wakes:
            _as_task(tasks.notify_salesforce, message_id)


def _as_task(task, *args) -> None:
    """The task's body as a worker runs it, in a configuration unit of work of its own (``task_prerun``, which
    ``run`` does not send), so the version token is read once per task, not at every lookup."""
    from tenants import config_cache

    with config_cache.unit_of_work():
        task.run(*args)


def _webhook(client, tenant, n: int, conversation: int) -> int:
    body = whatsapp_mo(f"profile-{n}", tenant.sender, customer(0, conversation), f"profile {n}")
    signature = "sha256=" + hmac.new(tenant.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        f"/webhooks/infobip/{tenant.account_key}/",
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature},
    )
    return response.status_code


def _report(client, tenant, result: dict) -> None:
    body = json.dumps({"results": [result]}).encode()
    signature = "sha256=" + hmac.new(tenant.webhook_secret.encode(), body, hashlib.sha256).hexdigest()
    response = client.post(
        f"/webhooks/infobip/{tenant.account_key}/",
        data=body,
        content_type="application/json",
        headers={"X-Hub-Signature-256": signature},
    )
    assert response.status_code == 200, response.content


def _delivered(message_id: str, phone: str, stamp: str) -> dict:
    """An Infobip WhatsApp delivery report, as Infobip posts it."""
    return {
        "messageId": message_id,
        "status": {"id": 5, "groupId": 3, "groupName": "DELIVERED", "name": "DELIVERED_TO_HANDSET"},
        "error": {"id": 0, "groupId": 0, "groupName": "OK", "name": "NO_ERROR", "permanent": False},
        "doneAt": stamp,
        "sentAt": stamp,
        "messageCount": 1,
        "to": phone.lstrip("+"),
    }


def _seen(message_id: str, phone: str, sender: str, stamp: str) -> dict:
    """An Infobip WhatsApp seen report."""
    return {
        "messageId": message_id,
        "from": sender.lstrip("+"),
        "to": phone.lstrip("+"),
        "sentAt": stamp,
        "seenAt": stamp,
    }


ENTRY_KEYS = (
    "identifier",
    "senderDisplayName",
    "sender",
    "entryType",
    "entryPayload",
    "transcriptedTimestamp",
    "clientTimestamp",
    "clientDuration",
)


def _agent_replies(stack: Stack, targets: dict, conversations: list, first: int, count: int) -> list:
    """``count`` agent replies written in the sandbox's console (so Salesforce knows the entries the reports'
    acknowledgements name), as the Pub/Sub events' fields; the listener is not running, so
    the profile hands the events to its handler itself."""
    events = []
    with httpx.Client(base_url=stack.sandbox_url, timeout=30) as http:
        for i in range(count):
            conversation = conversations[i % len(conversations)]
            target = targets[conversation.pk]
            response = http.post(
                target["path"], json={"agent": target["agent"], "text": f"profile reply {first + i}"}
            )
            response.raise_for_status()
            events.append(_agent_event(conversation, response.json()))
    return events


def _agent_event(conversation, entry: dict) -> dict:
    payload = {
        "conversationIdentifier": conversation.salesforce_conversation_id,
        "channelAddressIdentifier": conversation.sender.channel_address_identifier,
        "recipient": {"subject": conversation.customer, "role": "EndUser", "appType": "custom"},
        "payload": {key: entry[key] for key in ENTRY_KEYS if key in entry},
    }
    return {"EventType__c": "Interaction", "Payload__c": json.dumps(payload)}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
