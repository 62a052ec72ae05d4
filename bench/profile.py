"""``python -m bench profile``: where one message's time goes, in one process, against PostgreSQL.

The sandbox runs as its own process; Switchboard's code runs here, so the profiler sees all of it:

1. ``webhook``: N signed webhooks through Django's full request handling (middleware included);
2. ``deliver``: each conversation's line delivered to the Interaction Service (the Celery task's body);
3. ``outbound``: N agent events recorded (the listener's handler) and sent to Infobip.

For each part it prints the SQL statements per message, the Salesforce token mints and HTTP
connections opened, the wall time per message, and the profile (pyinstrument when installed, else
cProfile) into ``var/bench/profile/<part>.txt``.
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

from .load import whatsapp_mo
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
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    import relay.salesforce.auth as auth

    mints = {"n": 0}
    real_mint = auth.mint_token

    def counting_mint(conn):
        mints["n"] += 1
        return real_mint(conn)

    auth.mint_token = counting_mint  # counted, not changed: the real flow runs
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
        auth.mint_token = real_mint
    statements: dict[str, int] = {}
    for query in queries.captured_queries:
        verb = query["sql"].split()[0].upper()
        statements[verb] = statements.get(verb, 0) + 1
    results[name] = {
        "messages": count,
        "ms_per_message": elapsed / count * 1000,
        "sql_per_message": len(queries.captured_queries) / count,
        "sql_by_kind_per_message": {k: v / count for k, v in sorted(statements.items())},
        "token_mints": mints["n"],
        "http_connections_opened": _count_connections() - connects,
    }
    (out_dir / f"{name}.txt").write_text(profiler.text())
    (out_dir / f"{name}.sql.txt").write_text("\n".join(q["sql"] for q in queries.captured_queries[: 40 * 3]))


class _CProfile:
    def __init__(self) -> None:
        self.profile = cProfile.Profile()

    def start(self):
        self.profile.enable()

    def stop(self):
        self.profile.disable()

    def text(self) -> str:
        out = io.StringIO()
        pstats.Stats(self.profile, stream=out).sort_stats("cumulative").print_stats(60)
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
    parser.add_argument("--name", default="profile")
    args = parser.parse_args(argv)
    stack = Stack(
        StackConfig(name=args.name, database="switchboard_profile", broker_db=7, cache_db=8, beat=False)
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

    from portal.celery import app as celery_app
    from relay import tasks
    from relay.models import Conversation, Message

    celery_app.conf.task_always_eager = False
    queued: list[int] = []
    real_delay = tasks.deliver_inbound.delay
    tasks.deliver_inbound.delay = lambda conversation_id: queued.append(conversation_id)  # no broker here
    client = Client(HTTP_HOST="127.0.0.1")
    warm = [_webhook(client, tenant, i, c) for i, c in enumerate(range(args.conversations))]
    assert all(code == 200 for code in warm), warm
    for conversation_id in set(queued):
        tasks.deliver_inbound.run(conversation_id)
    queued.clear()
    n = args.messages
    with profiled("webhook", stack.var, results, n):
        for i in range(n):
            _webhook(client, tenant, 1000 + i, i % args.conversations)
    lines = list(dict.fromkeys(queued))
    with profiled("deliver", stack.var, results, n):
        for conversation_id in lines:
            tasks.deliver_inbound.run(conversation_id)
    tasks.deliver_inbound.delay = real_delay
    delivered = Message.objects.filter(direction="in", status="delivered").count()
    results["deliver"]["delivered"] = delivered

    from relay.outbound import record as outbound

    real_out = tasks.deliver_outbound.delay
    out_queue: list[int] = []
    tasks.deliver_outbound.delay = lambda conversation_id: out_queue.append(conversation_id)
    conversations = list(Conversation.objects.all())
    from tenants.models import Tenant

    bench = Tenant.objects.get(slug=tenant.slug)
    with profiled("agent_event", stack.var, results, n):
        for i in range(n):
            conv = conversations[i % len(conversations)]
            outbound.record_agent_event(bench, _agent_event(conv, i))
    with profiled("send", stack.var, results, n):
        for conversation_id in list(dict.fromkeys(out_queue)):
            tasks.deliver_outbound.run(conversation_id)
    tasks.deliver_outbound.delay = real_out
    results["send"]["sent"] = Message.objects.filter(direction="out", status="sent").count()


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


def _agent_event(conversation, n: int) -> dict:
    identifier = f"0XFprofile{n:08d}"
    payload = {
        "conversationIdentifier": conversation.salesforce_conversation_id,
        "channelAddressIdentifier": conversation.sender.channel_address_identifier,
        "recipient": {"subject": conversation.customer, "role": "EndUser", "appType": "custom"},
        "payload": {
            "identifier": identifier,
            "entryType": "Message",
            "senderDisplayName": "Ada",
            "sender": {"subject": "005000000000001", "role": "Agent", "appType": "agent"},
            "entryPayload": {
                "entryType": "Message",
                "id": identifier,
                "abstractMessage": {
                    "messageType": "StaticContentMessage",
                    "id": identifier,
                    "staticContent": {"formatType": "Text", "text": f"profile reply {n}"},
                },
            },
        },
    }
    return {"EventType__c": "Interaction", "Payload__c": json.dumps(payload)}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
