"""relay_listen's Legacy Chat side: every open chat long-polled at the Chat API, its messages recorded.

Chats are polled one long poll at a time on a bounded pool (``LIVECHAT_POLL_THREADS``): each poll is a task that
queues the next poll of its chat when it ends, so more open chats than threads all get their turn (one answer
waits at most a poll timeout per round). The chats are found in the database (``LiveChatSession`` rows a worker
opened), every ``refresh_seconds``, so a restarted listener resumes each chat with its stored session key,
affinity, ack and offset: the first poll repeats the stored ack, and a batch recorded before the restart is
recognised and not recorded twice (relay/desks/livechat_events.py).

A 503 (the session moved to another server) of a polled chat is answered here, and only here, with
ReconnectSession (relay.desks.livechat.reconnect); the POST sequence numbers start again at 1, including those a
worker reserved for a message it is still sending. A chat still waiting for its request's answer is not polled
here: the worker asking reconnects it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import close_old_connections

from tenants.models import SalesforceConnection

from ..errors import ExternalError
from .livechat import as_session, reconnect
from .livechat_api import AFFINITY_CHANGED, SESSION_GONE, ChatApi
from .livechat_events import end_chat, record_batch
from .livechat_models import LiveChatSession

log = logging.getLogger("relay.listen.livechat")

POLLED = (LiveChatSession.Status.WAITING, LiveChatSession.Status.ESTABLISHED)
ERROR_PAUSE_SECONDS = 2.0


def poll_chat(pk: int, held: Callable[[int], bool] | None = None) -> bool:
    """One long poll of chat ``pk``, its messages recorded. True while the chat is still open and, given
    ``held``, its tenant still held by this process (another relay_listen polls it otherwise)."""
    chat = LiveChatSession.objects.select_related("tenant__salesforce").filter(pk=pk).first()
    if chat is None or chat.status not in POLLED or (held is not None and not held(chat.tenant_id)):
        return False
    api = ChatApi(chat.tenant.salesforce.chat_api_endpoint)
    session = as_session(chat)
    try:
        messages = api.poll(session)
    except ExternalError as exc:
        if exc.code == AFFINITY_CHANGED:
            reconnect(pk, api)
            return True
        if exc.code == SESSION_GONE:  # timed out, or ended while we were away
            end_chat(chat, "timeout")
            return False
        raise
    if messages:
        chat = record_batch(pk, messages, ack=session.ack, offset=session.offset)
    return chat.status in POLLED


class ChatPoller:
    """The ``livechat`` agent feed of ``relay_listen`` (``relay.desks.base.AgentFeed``): run with :meth:`run`
    (blocks until :meth:`stop`). Polls only the chats of tenants ``owns`` says this process holds (None: all);
    a chat whose tenant moves to another process is not polled again here (a poll already under way ends
    within its long-poll timeout; its batch is recognised by the new holder and not recorded twice)."""

    def __init__(
        self,
        *,
        threads: int | None = None,
        refresh_seconds: float = 2.0,
        tenant_slugs: list[str] | None = None,
        owns: Callable[[int], bool] | None = None,
    ):
        self.refresh_seconds = refresh_seconds
        self.tenant_slugs = tenant_slugs
        self.owns = owns
        self.threads = max(1, settings.LIVECHAT_POLL_THREADS if threads is None else threads)
        self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="livechat-poll")
        self._polling: set[int] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.is_set():
            try:
                self.refresh()
            except Exception:  # noqa: BLE001 - the database may be away for a moment; try again
                log.exception("could not read the open Legacy Chat sessions")
            finally:
                close_old_connections()
            self._stopped.wait(self.refresh_seconds)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def stop(self) -> None:
        self._stopped.set()

    def refresh(self) -> None:
        chats = LiveChatSession.objects.filter(
            status__in=POLLED,
            tenant__active=True,
            tenant__salesforce__desk=SalesforceConnection.Desk.LIVECHAT,
        )
        if self.tenant_slugs:
            chats = chats.filter(tenant__slug__in=self.tenant_slugs)
        for pk, tenant_id in chats.values_list("pk", "tenant_id"):
            if not self._held(tenant_id):
                continue
            with self._lock:
                if pk in self._polling:
                    continue
                self._polling.add(pk)
            self._submit(pk)

    def _held(self, tenant_id: int) -> bool:
        return self.owns is None or self.owns(tenant_id)

    def _submit(self, pk: int) -> None:
        try:
            self._pool.submit(self._poll, pk)
        except RuntimeError:  # shut down
            with self._lock:
                self._polling.discard(pk)

    def _poll(self, pk: int) -> None:
        again = True
        try:
            again = poll_chat(pk, held=self._held)
        except Exception as exc:  # noqa: BLE001 - one chat's trouble must not stop the others
            log.warning("Legacy Chat session %s: %s", pk, exc)
            self._stopped.wait(ERROR_PAUSE_SECONDS)
        finally:
            close_old_connections()
        if again and not self._stopped.is_set():
            self._submit(pk)
        else:
            with self._lock:
                self._polling.discard(pk)
