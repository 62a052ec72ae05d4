"""``manage.py relay_listen``: receive the agents' messages of every tenant this process holds.

Each desk names how its agents' messages arrive (``Desk.agent_feed``); ``SWITCHBOARD_AGENT_FEEDS`` maps that
name to a runner class (the contract: ``relay.desks.base.AgentFeed``). This command starts one runner per feed
that a configured desk uses (Pub/Sub for BYOC Messaging, long polling for Legacy Chat, ...), each in its own
thread, and stops them all on SIGTERM or SIGINT.

Several ``relay_listen`` processes may run at once: they share the tenants through leases in the database
(relay/salesforce/shards.py), each tenant held by one live process and taken over within about
``RELAY_LISTENER_LEASE_SECONDS`` when its process dies. The runners serve only the tenants ``owns`` says
this process holds. On a clean stop the leases are handed back at once, after the runners have stopped.
"""

from __future__ import annotations

import inspect
import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from relay.desks.base import AgentFeed
from relay.desks.registry import desk_class, desk_for, desk_names
from relay.salesforce.shards import Shard

log = logging.getLogger("relay.listen")


def record_agent_event(tenant, fields) -> None:
    """One platform event, handed to the tenant's desk (``relay.desks``), which records what it says."""
    desk_for(tenant.salesforce).receive(fields)


def feeds_in_use() -> dict[str, str]:
    """Feed name → runner path, for every feed a configured desk uses (in the order of SWITCHBOARD_DESKS).
    A desk whose feed has no runner is logged: its agents' messages would never arrive."""
    feeds: dict[str, str] = {}
    for name in desk_names():
        feed = desk_class(name).agent_feed
        if not feed or feed in feeds:
            continue
        path = settings.SWITCHBOARD_AGENT_FEEDS.get(feed)
        if path is None:
            log.error("desk %r: its agent feed %r has no runner in SWITCHBOARD_AGENT_FEEDS", name, feed)
            continue
        feeds[feed] = path
    return feeds


def build_runner(path: str, **options) -> AgentFeed:
    """The runner at ``path``, given the contract's arguments and the optional ones its constructor names."""
    runner_class = import_string(path)
    accepted = inspect.signature(runner_class).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in accepted.values())
    contract = {"tenant_slugs", "owns", "refresh_seconds"}
    return runner_class(**{k: v for k, v in options.items() if k in contract or takes_any or k in accepted})


class Command(BaseCommand):
    help = (
        "Receive the agents' messages of the tenants this process holds (Pub/Sub, Legacy Chat polling, ...)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--refresh-seconds",
            type=float,
            default=5.0,
            help="How often to re-read the tenant list (added, changed, disabled tenants). Default 5.",
        )
        parser.add_argument(
            "--tenant",
            action="append",
            dest="tenants",
            metavar="SLUG",
            help="Only these tenants (repeatable). Every relay_listen of an installation takes the same list.",
        )
        parser.add_argument(
            "--max-backoff", type=float, default=60.0, help="Longest wait between reconnects, in seconds."
        )

    def handle(self, *args, refresh_seconds: float, tenants: list[str] | None, max_backoff: float, **options):
        shard = Shard(tenant_slugs=tenants, drop_seconds=refresh_seconds)
        runners: dict[str, AgentFeed] = {
            feed: build_runner(
                path,
                tenant_slugs=tenants,
                owns=shard.owns,
                refresh_seconds=refresh_seconds,
                max_backoff=max_backoff,
            )
            for feed, path in feeds_in_use().items()
        }
        threads = [
            threading.Thread(target=runner.run, name=f"feed-{feed}", daemon=True)
            for feed, runner in runners.items()
        ]
        stopped = threading.Event()

        def stop(signum, frame):
            log.info("received %s; stopping", signal.Signals(signum).name)
            stopped.set()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        log.info(
            "relay_listen %s: feeds %s, Pub/Sub at %s (%s), tenant list every %.1f s, leases of %.0f s",
            shard.holder,
            ", ".join(runners) or "none",
            settings.SALESFORCE_PUBSUB_ENDPOINT,
            "TLS" if settings.SALESFORCE_PUBSUB_TLS else "plaintext",
            refresh_seconds,
            shard.lease_seconds,
        )
        shard.start()  # the first round of leases is taken before the runners look at owns()
        for thread in threads:
            thread.start()
        self.stdout.write("relay_listen: running; SIGTERM or Ctrl-C stops it.")
        failed: list[str] = []
        try:
            while not stopped.wait(0.5) and not failed:
                failed = [thread.name for thread in threads if not thread.is_alive()]
        finally:
            for runner in runners.values():
                runner.stop()
            for thread in threads:
                thread.join(timeout=15)
            shard.stop()  # only now: the tenants are handed back once nothing here serves them
        if failed:  # a runner that ends on its own is a defect: exit non-zero so the supervisor restarts us
            raise CommandError(f"relay_listen: {', '.join(failed)} stopped on its own; see the log above.")
        self.stdout.write("relay_listen: stopped.")
