"""``manage.py relay_listen``: receive the agents' messages of every tenant over the Pub/Sub API.

One subscription per active tenant with a complete Salesforce connection; the tenant list is re-read
every ``--refresh-seconds`` so tenants added, changed or disabled need no restart. Each subscription has
its own thread for its stream, but all database work runs on ``RELAY_LISTENER_DB_THREADS`` shared threads
(default 4), so the process holds that many database connections however many tenants it serves.
SIGTERM and SIGINT stop it cleanly: open streams are cancelled and each tenant's cursor stays at its last
handled batch.
"""

from __future__ import annotations

import logging
import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand

from relay.desks.livechat_poll import ChatPoller
from relay.desks.registry import desk_for
from relay.salesforce.pubsub import Backoff, Listener

log = logging.getLogger("relay.listen")


def record_agent_event(tenant, fields) -> None:
    """One platform event, handed to the tenant's desk (``relay.desks``), which records what it says."""
    desk_for(tenant.salesforce).receive(fields)


class Command(BaseCommand):
    help = "Subscribe to every active tenant's platform event and turn agent messages into outbound messages."

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
            help="Only these tenants (repeatable).",
        )
        parser.add_argument(
            "--max-backoff", type=float, default=60.0, help="Longest wait between reconnects, in seconds."
        )

    def handle(self, *args, refresh_seconds: float, tenants: list[str] | None, max_backoff: float, **options):
        listener = Listener(
            record_agent_event,
            refresh_seconds=refresh_seconds,
            tenant_slugs=tenants,
            backoff=Backoff(initial=1.0, maximum=max_backoff),
        )

        # Legacy Chat tenants' agents arrive by long polling, not Pub/Sub (relay/desks/livechat_poll.py).
        chats = ChatPoller(threads=settings.LIVECHAT_POLL_THREADS, tenant_slugs=tenants)
        chat_thread = threading.Thread(target=chats.run, name="livechat-poller", daemon=True)

        def stop(signum, frame):
            log.info("received %s; stopping", signal.Signals(signum).name)
            listener.stop()
            chats.stop()

        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        log.info(
            "relay_listen: Pub/Sub at %s (%s), tenant list every %.1f s, database work on %d threads",
            settings.SALESFORCE_PUBSUB_ENDPOINT,
            "TLS" if settings.SALESFORCE_PUBSUB_TLS else "plaintext",
            refresh_seconds,
            listener.db.size,
        )
        self.stdout.write("relay_listen: running; SIGTERM or Ctrl-C stops it.")
        chat_thread.start()
        try:
            listener.run()
        finally:
            chats.stop()
        self.stdout.write("relay_listen: stopped.")
