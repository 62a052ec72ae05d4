"""The Case panel's files are kept only while they can be fetched: once a file's link has expired and its
message is over (sent, delivered, read or failed), the periodic task deletes it, found through the message
rows, each file once, and only the tenant's own; a file no row names (a crash between storing it and its
message) is found in the tenant's folder and deleted once it is a day old."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from portal.console.case_panel import attachments
from portal.console.tasks import purge_case_panel_files
from relay.models import Message

from .case_panel_support import CASE_A, headers, open_panel, token_of
from .case_panel_support import case_world as make_world

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def files_in(settings, tmp_path):
    settings.VAR_DIR = tmp_path  # the storage's folder when no "case_panel" storage is configured
    settings.PUBLIC_BASE_URL = "https://switchboard.example"
    settings.CASE_PANEL_FILE_DAYS = 30
    return tmp_path / "case-panel-files"


def send_file(client: Client, token: str, text: str) -> tuple[Message, str]:
    """An agent's reply with a file, through the panel; the message and where its file is kept."""
    upload = SimpleUploadedFile("label.png", PNG, content_type="image/png")
    data = {"text": text, "attachment": upload, "send_key": ""}
    response = client.post("/console/case/reply/", data, **headers(token))
    assert response.status_code == 200, response.content.decode()[:800]
    message = Message.objects.get(text=text)
    key = attachments.load(message.content["media_url"].rsplit("/", 2)[-2])["k"]
    return message, key


def aged(message: Message, days: float, status: str) -> None:
    Message.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - timedelta(days=days), status=status
    )


def test_a_file_goes_once_its_link_expired_and_its_message_is_over(files_in):
    make_world()
    client = Client()
    token = token_of(open_panel(client, record=CASE_A))
    store = attachments.storage()
    sent = {}
    for text, days, status in [
        ("young and delivered", 29, "delivered"),
        ("old and read", 31, "read"),
        ("old and failed", 31, "failed"),
        ("old and still pending", 31, "pending"),
    ]:
        message, key = send_file(client, token, text)
        aged(message, days, status)
        sent[text] = (message, key)
    assert all(store.exists(key) for _, key in sent.values())

    assert purge_case_panel_files() == 2  # the task the beat runs
    kept = {text for text, (_, key) in sent.items() if store.exists(key)}
    assert kept == {"young and delivered", "old and still pending"}
    gone = Message.objects.get(pk=sent["old and read"][0].pk)
    assert attachments.DELETED_MARK in gone.content and gone.content["media_filename"] == "label.png"

    # The next run looks only at what is left; the pending one goes when it is over.
    assert purge_case_panel_files() == 0
    Message.objects.filter(pk=sent["old and still pending"][0].pk).update(status="failed")
    assert purge_case_panel_files() == 1
    assert [text for text, (_, key) in sent.items() if store.exists(key)] == ["young and delivered"]
    assert "case-panel-files-purge" in django_settings.CELERY_BEAT_SCHEDULE


def test_the_setting_is_the_links_life_and_the_files(files_in, settings, monkeypatch):
    import time

    from django.core import signing

    make_world()
    client = Client()
    token = token_of(open_panel(client, record=CASE_A))
    message, key = send_file(client, token, "a label")
    link = message.content["media_url"].removeprefix("https://switchboard.example")
    settings.CASE_PANEL_FILE_DAYS = 1
    assert Client().get(link).status_code == 200
    two_days_on = time.time() + 2 * 86400
    monkeypatch.setattr(signing.time, "time", lambda: two_days_on)  # the clock the signature is read by
    assert Client().get(link).status_code == 404  # the link expired with the setting, not the default 30 days
    settings.CASE_PANEL_FILE_DAYS = 3
    assert Client().get(link).status_code == 200
    monkeypatch.undo()

    aged(message, 2, "delivered")
    assert attachments.purge_expired() == 0  # 3 days: still fetchable, still kept
    settings.CASE_PANEL_FILE_DAYS = 1
    assert attachments.purge_expired() == 1 and not attachments.storage().exists(key)


def test_only_our_signed_link_to_the_tenants_own_file_is_deleted(files_in):
    world = make_world()
    store = attachments.storage()
    theirs = store.save("999/other-tenants-file", SimpleUploadedFile("x.png", PNG))
    forged = attachments.signing.dumps(
        {"t": 999, "k": theirs, "m": "image/png", "n": "x.png"}, salt="not-ours"
    )
    other_tenant = attachments.signing.dumps(
        {"t": 999, "k": theirs, "m": "image/png", "n": "x.png"}, salt=attachments.SALT
    )
    for n, token in enumerate([forged, other_tenant]):
        path = f"/console/case/file/{token}/x.png"
        Message.objects.create(
            tenant=world.tenant, conversation=world.conversation, direction="out", sequence=n + 1,
            kind="media", text="", status="delivered", expires_at=timezone.now(),
            content={"kind": "media", "source": "case_panel", "media_url": "https://x" + path, "panel_path": path},
        )  # fmt: skip
    Message.objects.update(created_at=timezone.now() - timedelta(days=60))
    assert attachments.purge_expired() == 0 and store.exists(theirs)
    assert all(attachments.DELETED_MARK in m.content for m in Message.objects.all())  # looked at once


def test_one_run_takes_every_batch_and_a_storage_failure_waits_for_the_next_run(files_in, monkeypatch):
    make_world()
    client = Client()
    token = token_of(open_panel(client, record=CASE_A))
    keys = {}
    for n in range(3):
        message, keys[n] = send_file(client, token, f"file {n}")
        aged(message, 31, "delivered")
    monkeypatch.setattr(attachments, "PURGE_BATCH", 1)
    store = attachments.storage()
    real_delete = type(store).delete

    def delete(self, name):
        if name == keys[1]:
            raise OSError("the storage is away")
        return real_delete(self, name)

    monkeypatch.setattr(type(store), "delete", delete)
    assert (
        attachments.purge_expired() == 2
    )  # three batches of one; the refused file is not retried in the run
    assert [n for n, key in keys.items() if store.exists(key)] == [1]
    monkeypatch.setattr(type(store), "delete", real_delete)
    assert attachments.purge_expired() == 1 and not store.exists(keys[1])


def test_a_file_no_message_names_goes_once_it_is_a_day_old(files_in):
    """A crash between storing a reply's file and writing its message row (the worker killed, the database
    gone mid-request) left a file no row names: the purge never found it. Now the hourly run deletes such a
    file once it is older than a request can last, and nothing else in the storage."""
    import os

    world = make_world()
    client = Client()
    token = token_of(open_panel(client, record=CASE_A))
    store = attachments.storage()
    named, named_key = send_file(client, token, "sent long ago, still pending")
    aged(named, 40, "pending")
    orphan = attachments.store(world.tenant.pk, SimpleUploadedFile("a.png", PNG)).key  # then the crash
    young = attachments.store(world.tenant.pk, SimpleUploadedFile("b.png", PNG)).key  # a reply being sent now
    not_ours = store.save(f"{world.tenant.pk}/notes.txt", SimpleUploadedFile("notes.txt", b"keep"))
    elsewhere = store.save("exports/" + "a" * 32, SimpleUploadedFile("x", b"keep"))
    two_days_ago = (timezone.now() - timedelta(days=2)).timestamp()
    for key in (named_key, orphan, not_ours, elsewhere):
        os.utime(store.path(key), (two_days_ago, two_days_ago))

    assert purge_case_panel_files() == 1
    assert not store.exists(orphan)
    assert all(store.exists(key) for key in (named_key, young, not_ours, elsewhere))
    assert attachments.purge_orphans() == 0  # the next run: nothing more

    # Once the young one is a day old with no message naming it, it goes too.
    assert attachments.purge_orphans(now=timezone.now() + timedelta(days=1, minutes=1)) == 1
    assert not store.exists(young) and store.exists(named_key)


def test_the_orphan_purge_of_an_empty_or_failing_storage_deletes_nothing(files_in, monkeypatch):
    assert attachments.purge_orphans() == 0  # nothing stored yet: no folder at all
    world = make_world()
    key = attachments.store(world.tenant.pk, SimpleUploadedFile("a.png", PNG)).key
    store = attachments.storage()

    def away(self, name):
        raise OSError("the storage is away")

    monkeypatch.setattr(type(store), "listdir", away)
    assert attachments.purge_orphans(now=timezone.now() + timedelta(days=2)) == 0 and store.exists(key)
