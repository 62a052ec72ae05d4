"""``python -m bench streams``: how many Enhanced Chat event streams one relay_listen process holds, and its memory.

The sandbox runs in its own process with one Enhanced Chat deployment. ``--streams`` end users get an access token
each (the desk's own API call); ``--live`` of them also open a conversation that an agent accepts. A child
process, set up as relay_listen is (Django, the database, the egress guard), runs the Enhanced Chat runner
(relay/desks/enhanced_chat_feed.py) over all of them and reports every second how many streams are connected,
its resident memory and how many agent messages it has recorded. Once every stream is connected, the agents
of the live conversations each write one message; the run checks that each arrived once. Figures printed:
streams held, time to connect them all, memory before and after (and per stream), agent messages recorded and
the slowest of them. docs/benchmarks.md records a run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bench.stack import fernet_key, free_port, wait_until

ROOT = Path(__file__).resolve().parents[1]
ORG_ID = "00D8d000000StRm"
DEPLOYMENT = "Bench_Streams"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench streams", description=__doc__.split("\n\n")[0])
    p.add_argument("--streams", type=int, default=10_000, help="end users, one event stream each")
    p.add_argument("--live", type=int, default=100, help="of them, conversations an agent writes in")
    p.add_argument("--db-threads", type=int, default=4, help="RELAY_LISTENER_DB_THREADS")
    p.add_argument("--connect-timeout", type=float, default=600.0, help="seconds to connect every stream")
    p.add_argument("--json", type=Path, help="write the figures here too")
    p.add_argument("--child", type=Path, help=argparse.SUPPRESS)  # internal: run the listener side
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.child:
        return child(args)
    return parent(args)


# --- the parent: sandbox, tokens, agents ------------------------------------------------------------------------


def parent(args) -> int:
    var = ROOT / "var" / "bench-streams"
    var.mkdir(parents=True, exist_ok=True)
    port, grpc_port = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DEBUG": "true",
        "SWITCHBOARD_VAR_DIR": str(var),
        "DATABASE_URL": f"sqlite:///{var}/streams.sqlite3",
        "CELERY_BROKER_URL": "filesystem://localhost/",
        "ENCRYPTION_KEYS": fernet_key(),
        "EGRESS_ALLOWED_HOSTS": f"127.0.0.1:{port}",
        "RELAY_LISTENER_DB_THREADS": str(args.db_threads),
        "LOG_LEVEL": "WARNING",
    }
    (var / "streams.sqlite3").unlink(missing_ok=True)
    sandbox = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "sandbox", "--port", str(port), "--grpc-port", str(grpc_port), "--fixture", "",
         "--state-dir", str(var)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    listener = None
    try:
        wait_until(lambda: _up(base), timeout=60, what="the sandbox")
        sim = httpx.Client(base_url=base, timeout=30)
        org = {
            "org_id": ORG_ID,
            "name": "Stream Bench",
            "my_domain": "streambench",
            "users": [{"username": "ada@streams.bench", "name": "Ada Agent", "agent": True, "online": True}],
            "queues": [{"name": "Support", "developer_name": "Support"}],
            "enhanced_chat": {"deployments": [{"developer_name": DEPLOYMENT, "queue": "Support"}]},
        }
        sim.post("/__sim/orgs", json=org).raise_for_status()
        sim.put(
            "/__sim/enhancedchat/limits", json={"tokens_per_org_per_minute": 10_000_000}
        ).raise_for_status()
        started = time.monotonic()
        users = asyncio.run(_end_users(base, args.streams, args.live))
        setup_seconds = time.monotonic() - started
        print(
            f"{len(users)} end users ({args.live} with a conversation) in {setup_seconds:.1f} s", flush=True
        )
        tokens = var / "end-users.json"
        tokens.write_text(json.dumps({"scrt": f"{base}/sim/scrt", "users": users}))
        listener = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "bench", "streams", "--child", str(tokens), "--streams", str(args.streams)],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True, bufsize=1,
        )  # fmt: skip
        figures = _drive(args, sim, listener)
        figures["setup_seconds"] = round(setup_seconds, 1)
        figures["sandbox_streams"] = sim.get("/__sim/enhancedchat/streams").json()
    finally:
        if listener is not None and listener.poll() is None:
            listener.terminate()
            listener.wait(timeout=30)
        sandbox.terminate()
        sandbox.wait(timeout=30)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    ok = figures["connected_max"] >= args.streams and figures["agent_messages_recorded"] == args.live
    return 0 if ok else 1


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/__sim/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


async def _end_users(base: str, count: int, live: int) -> list[dict]:
    """``count`` tokens; the first ``live`` with a conversation (ids chosen here, as the desk does)."""
    import uuid

    limit = asyncio.Semaphore(64)
    async with httpx.AsyncClient(base_url=f"{base}/sim/scrt/iamessage/api/v2", timeout=60) as client:

        async def one(index: int) -> dict:
            async with limit:
                body = {
                    "orgId": ORG_ID,
                    "esDeveloperName": DEPLOYMENT,
                    "capabilitiesVersion": "1",
                    "platform": "Web",
                }
                answer = (await client.post("/authorization/unauthenticated/access-token", json=body)).json()
                user = {"token": answer["accessToken"], "last_event_id": str(answer.get("lastEventId") or "")}
                if index < live:
                    user["conversation"] = str(uuid.uuid4())
                    headers = {"Authorization": f"Bearer {user['token']}"}
                    created = await client.post(
                        "/conversation",
                        json={"conversationId": user["conversation"], "esDeveloperName": DEPLOYMENT},
                        headers=headers,
                    )
                    created.raise_for_status()
                return user

        return list(await asyncio.gather(*(one(i) for i in range(count))))


def _drive(args, sim: httpx.Client, listener: subprocess.Popen) -> dict:
    """Read the child's reports; once every stream is connected, the agents write; until all arrived."""
    assert listener.stdout is not None and listener.stdin is not None
    figures: dict = {"streams": args.streams, "live_conversations": args.live}
    started, connected_at, replied_at = time.monotonic(), None, None
    for line in listener.stdout:
        if not line.startswith("{"):
            continue
        report = json.loads(line)
        if "baseline_rss_mib" in report:
            figures.update(report)
            started = time.monotonic()
            continue
        figures["connected_max"] = max(figures.get("connected_max", 0), report["connected"])
        figures["rss_mib"] = report["rss_mib"]
        if connected_at is None and report["connected"] >= args.streams:
            connected_at = time.monotonic()
            figures["seconds_to_connect_all"] = round(connected_at - started, 1)
            figures["rss_mib_all_connected"] = report["rss_mib"]
            replied_at = time.monotonic()
            _agents_write(sim, args.live)
            figures["agent_replies_sent_in_seconds"] = round(time.monotonic() - replied_at, 1)
        if connected_at is None and time.monotonic() - started > args.connect_timeout:
            figures["timed_out_connecting"] = True
            break
        if replied_at is not None:
            figures["agent_messages_recorded"] = report["recorded"]
            if report["recorded"] >= args.live or time.monotonic() - replied_at > 120:
                figures["seconds_to_record_all_replies"] = round(time.monotonic() - replied_at, 1)
                figures["connected_at_end"] = report["connected"]
                figures["rss_mib_end"] = report["rss_mib"]
                break
    figures.setdefault("agent_messages_recorded", 0)
    figures.setdefault("connected_max", 0)
    base = figures.get("baseline_rss_mib", 0)
    if figures.get("rss_mib_all_connected") and figures["connected_max"]:
        per = (figures["rss_mib_all_connected"] - base) * 1024 / figures["connected_max"]
        figures["kib_per_stream"] = round(per, 1)
    listener.stdin.write("stop\n")
    listener.stdin.flush()
    return figures


def _agents_write(sim: httpx.Client, live: int) -> None:
    console = f"/__sim/console/api/orgs/{ORG_ID}"
    agent = sim.get(f"{console}/agents").json()[0]["id"]
    for conversation in sim.get(f"/__sim/enhancedchat/orgs/{ORG_ID}/conversations").json()[:live]:
        session = conversation["sessions"][-1]["id"]
        sim.post(f"{console}/sessions/{session}/accept", json={"agent": agent}).raise_for_status()
        sim.post(
            f"{console}/sessions/{session}/reply", json={"agent": agent, "text": "bench"}
        ).raise_for_status()


# --- the child: relay_listen's Enhanced Chat runner ---------------------------------------------------------------


def child(args) -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "portal.settings")
    import threading

    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    spec = json.loads(args.child.read_text())
    _rows(spec)
    from relay.desks.enhanced_chat_feed import EnhancedChatFeed
    from relay.models import Message

    print(json.dumps({"baseline_rss_mib": _rss_mib()}), flush=True)
    feed = EnhancedChatFeed(refresh_seconds=5.0, max_backoff=5.0)
    thread = threading.Thread(target=feed.run, daemon=True)
    thread.start()
    stopping = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stopping.set()), daemon=True).start()
    while not stopping.wait(1.0):
        recorded = Message.objects.filter(direction=Message.Direction.OUTBOUND).count()
        report = {
            "connected": feed.connected,
            "holding": feed.holding,
            "rss_mib": _rss_mib(),
            "recorded": recorded,
        }
        print(json.dumps(report), flush=True)
    feed.stop()
    thread.join(timeout=30)
    return 0


def _rows(spec: dict) -> None:
    """The tenant, one conversation and one open Enhanced Chat session per end user (bulk)."""
    import uuid

    from relay.desks.enhanced_chat_api import token_expiry
    from relay.desks.enhanced_chat_models import EnhancedChatSession
    from relay.models import Conversation
    from tenants.models import ProviderAccount, SalesforceConnection, Sender, Tenant

    tenant = Tenant.objects.create(name="Stream Bench", slug="stream-bench", org_id=ORG_ID)
    SalesforceConnection.objects.create(
        tenant=tenant,
        desk=SalesforceConnection.Desk.ENHANCED_CHAT,
        instance_url="https://streambench.my.salesforce.com",
        scrt_url=spec["scrt"],
        es_developer_name=DEPLOYMENT,
    )
    account = ProviderAccount(
        tenant=tenant, name="Bench", base_url="https://abcd12.api.infobip.com", api_key="k"
    )
    account.rotate_webhook_credentials()
    account.save()
    sender = Sender.objects.create(
        tenant=tenant, account=account, channel="whatsapp", address="+447860099299"
    )
    users = spec["users"]
    conversations = Conversation.objects.bulk_create(
        [Conversation(tenant=tenant, sender=sender, customer=f"+3859{i:08d}") for i in range(len(users))],
        batch_size=1000,
    )
    EnhancedChatSession.objects.bulk_create(
        [
            EnhancedChatSession(
                tenant=tenant,
                conversation=conversation,
                status=EnhancedChatSession.Status.OPEN,
                conversation_uuid=user.get("conversation") or str(uuid.uuid4()),
                access_token=user["token"],
                token_expires_at=token_expiry(user["token"]),
                last_event_id=user["last_event_id"],
            )
            for conversation, user in zip(conversations, users, strict=True)
        ],
        batch_size=1000,
    )


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0
