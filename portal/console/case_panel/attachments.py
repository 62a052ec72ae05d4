"""Files an agent attaches in the Case panel: checked, stored, and served to the provider that sends them.

The relay sends an agent's file as media by URL (``media_url``): WhatsApp, Viber and SMS providers fetch it
from there. So a file is kept by Switchboard and published at an unguessable signed URL
(``/console/case/file/<token>/<name>``), which names the stored file, its type and its name; the signature
lasts ``CASE_PANEL_FILE_DAYS`` (the provider fetches it when it sends, within the tenant's delivery window).

Not kept for ever: once its link has expired and its message is over (sent, delivered, read or failed), nobody
can fetch the file any more, and :func:`purge_expired` (the beat's ``console.case_panel.purge_files``) deletes
it. The messages are the list: each reply with a file is a row whose content names the file's link, so the
storage is never walked (an S3 bucket's listing is slow and costly), and the row is marked once its file is
gone, so each run looks only at what is left. The one exception: a file whose message row was never written
(a crash between the two) is found by listing the tenant's folder (:func:`purge_orphans`), as nothing else
names it.

Nothing the browser says about the file is trusted: the type comes from the file's first bytes, and only
the types every channel takes are accepted, within WhatsApp's documented sizes (images 5 MB, audio and
video 16 MB; documents up to 100 MB there, kept to 16 MB here so one upload stays one modest request):
https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media#supported-media-types
Served back, a file is only ever its checked type, with ``nosniff`` and a sandboxing CSP, so even a file
crafted to look like something else cannot run as a page on our origin.

Where: the storage named ``case_panel`` in ``STORAGES`` if the operator configured one (several web
servers need a shared one, e.g. S3), else a folder under ``SWITCHBOARD_VAR_DIR``.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.storage import FileSystemStorage, Storage, storages
from django.core.files.uploadedfile import UploadedFile
from django.urls import Resolver404, resolve, reverse
from django.utils import timezone

from relay.models import Message

log = logging.getLogger(__name__)

SALT = "switchboard.console.case-panel-file"
#: The message content's mark of a file deleted (when), so a later run does not look at its row again.
DELETED_MARK = "panel_file_deleted"
PURGE_BATCH = 500
#: A stored file no message names is an orphan (see :func:`purge_orphans`) once it is this old: a reply's
#: file and its message row are written by one request, within seconds of each other.
ORPHAN_AGE = timedelta(days=1)
#: The names :func:`store` gives files in a tenant's folder (uuid4 hex; a storage may add a suffix).
_OUR_NAME = re.compile(r"^[0-9a-f]{32}(?:_[A-Za-z0-9]{1,16})?$")
#: A message in one of these will never be sent again: its file has served its purpose.
OVER = (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.READ, Message.Status.FAILED)
MAX_BYTES = 16 * 1024 * 1024
IMAGE_MAX_BYTES = 5 * 1024 * 1024
NAME_MAX = 100


@dataclass(frozen=True)
class FileType:
    mime: str
    extension: str
    label: str
    max_bytes: int = MAX_BYTES


JPEG = FileType("image/jpeg", "jpg", "JPEG image", IMAGE_MAX_BYTES)
PNG = FileType("image/png", "png", "PNG image", IMAGE_MAX_BYTES)
PDF = FileType("application/pdf", "pdf", "PDF document")
MP4 = FileType("video/mp4", "mp4", "MP4 video")
THREE_GP = FileType("video/3gpp", "3gp", "3GPP video")
M4A = FileType("audio/mp4", "m4a", "M4A audio")
MP3 = FileType("audio/mpeg", "mp3", "MP3 audio")
OGG = FileType("audio/ogg", "ogg", "OGG audio")
ACCEPTED = (JPEG, PNG, PDF, MP4, THREE_GP, M4A, MP3, OGG)
# What the file picker offers (the server decides from the bytes anyway).
ACCEPT_ATTRIBUTE = ",".join([t.mime for t in ACCEPTED] + [f".{t.extension}" for t in ACCEPTED])


@dataclass(frozen=True)
class StoredFile:
    url: str  # absolute: what the provider fetches
    path: str  # the site-relative link the panel shows
    mime_type: str
    filename: str
    size: int
    key: str = ""  # where the storage keeps it


def sniff(head: bytes) -> FileType | None:
    """The file's type from its first bytes (the signatures of each format), or None if not accepted."""
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(b"%PDF-"):
        return PDF
    if head[4:8] == b"ftyp":  # ISO base media: the major brand says audio, 3GPP or MP4 video
        brand = head[8:12]
        if brand.startswith(b"M4A"):
            return M4A
        return THREE_GP if brand.startswith(b"3gp") else MP4
    if head.startswith(b"OggS"):
        return OGG
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return MP3
    return None


def describe_accepted() -> str:
    return "JPEG or PNG images (5 MB), PDF documents, MP4/3GPP video, MP3/M4A/OGG audio (16 MB)"


def check(upload: UploadedFile) -> tuple[FileType, str]:
    """(the file's type, a safe file name) or ValidationError saying what is wrong, in the agent's words."""
    size = upload.size or 0
    if size <= 0:
        raise ValidationError("The file is empty.", code="empty")
    if size > MAX_BYTES:
        raise ValidationError(
            f"The file has {_megabytes(size)}; the largest a message can carry here is {_megabytes(MAX_BYTES)}.",
            code="too_large",
        )
    upload.seek(0)
    head = upload.read(32)
    upload.seek(0)
    kind = sniff(head)
    if kind is None:
        raise ValidationError(
            f"This kind of file cannot be sent. Send {describe_accepted()}.", code="unsupported_type"
        )
    if size > kind.max_bytes:
        raise ValidationError(
            f"This {kind.label} has {_megabytes(size)}; WhatsApp takes at most {_megabytes(kind.max_bytes)}.",
            code="too_large",
        )
    return kind, safe_name(upload.name or "", kind)


def safe_name(given: str, kind: FileType) -> str:
    """The name the customer sees: no folders, no control or markup characters, the type's extension."""
    base = re.split(r"[\\/]", given)[-1]
    base = unicodedata.normalize("NFC", base)
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] not in ("C",))
    base = re.sub(r"[<>:\"|?*;&%#'`]", "", base).strip(" .")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = stem[: NAME_MAX - len(kind.extension) - 1].strip(" .") or "attachment"
    return f"{stem}.{kind.extension}"


def store(tenant_id: int, upload: UploadedFile) -> StoredFile:
    """Check and keep the file; its public URL. ValidationError (nothing kept) when it may not be sent."""
    kind, name = check(upload)
    key = storage().save(f"{tenant_id}/{uuid.uuid4().hex}", upload)
    token = signing.dumps({"t": tenant_id, "k": key, "m": kind.mime, "n": name}, salt=SALT, compress=True)
    path = reverse("console:case-panel-file", kwargs={"token": token, "name": name})
    return StoredFile(
        url=f"{settings.PUBLIC_BASE_URL}{path}",
        path=path,
        mime_type=kind.mime,
        filename=name,
        size=upload.size or 0,
        key=key,
    )


def discard(stored: StoredFile) -> None:
    """A stored file no message carries (the reply was refused, failed or was a repeat): not kept for ever."""
    if stored.key:
        storage().delete(stored.key)


def load(token: str) -> dict | None:
    """What a file URL names ({t, k, m, n}) if its signature is ours and young enough; else None."""
    try:
        data = signing.loads(token, salt=SALT, max_age=url_max_age())
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if not isinstance(data, dict) or not {"t", "k", "m", "n"} <= data.keys():
        return None
    if data["m"] not in {t.mime for t in ACCEPTED}:
        return None
    return data


def url_max_age() -> timedelta:
    """How long a file's link works, and so how long the file is kept (then deleted once its message is over)."""
    return timedelta(days=settings.CASE_PANEL_FILE_DAYS)


def purge_expired(now: datetime | None = None) -> int:
    """Delete the files of replies whose link has expired and whose message is over; the number deleted.

    A link is signed before its message is stored, so a message older than :func:`url_max_age` has an
    expired link. A message still pending keeps its file until it is sent or fails (the sweeper ends it
    within the tenant's delivery window). A file the storage cannot delete now is left for the next run."""
    now = now or timezone.now()
    due = (
        Message.objects.filter(
            direction=Message.Direction.OUTBOUND,
            kind="media",
            content__source="case_panel",
            status__in=OVER,
            created_at__lt=now - url_max_age(),
        )
        .exclude(content__has_key=DELETED_MARK)
        .order_by("pk")
    )
    store = storage()
    deleted = last = 0
    while (
        True
    ):  # in batches, each row once per run (one the storage refused is not taken again until the next)
        batch = list(due.filter(pk__gt=last).values_list("pk", "tenant_id", "content")[:PURGE_BATCH])
        for pk, tenant_id, content in batch:
            last = pk
            key = _stored_key(content, tenant_id)
            if key:
                try:
                    store.delete(key)  # a file already gone is no error (FileSystemStorage, S3 alike)
                except Exception as exc:  # noqa: BLE001 - the storage is away: the row stays for the next run
                    log.warning("tenant %s: the Case panel file of message %s could not be deleted (%s)",
                                tenant_id, pk, type(exc).__name__)  # fmt: skip
                    continue
                deleted += 1
            # Only if the content is still what was read: a change meanwhile is kept; the next run marks it.
            Message.objects.filter(pk=pk, content=content).update(
                content={**content, DELETED_MARK: now.isoformat()}
            )
        if len(batch) < PURGE_BATCH:
            return deleted


def purge_orphans(now: datetime | None = None) -> int:
    """Delete stored files that no message names and that are older than :data:`ORPHAN_AGE`; the number deleted.

    A reply's file is stored before its message row (the form checks it first), and a refused or repeated
    reply deletes its own; but a crash between the two (the worker killed, the database gone mid-request)
    leaves a file no row names, which :func:`purge_expired` can never find through the messages. Such files
    can only be found in the storage itself: each tenant's folder is listed (only names this module makes,
    ``<tenant id>/<32 hex>``, are looked at; anything else there is not ours), and a file that none of the
    tenant's live panel messages names and that was stored more than :data:`ORPHAN_AGE` ago (no request lasts
    that long) is deleted. A storage that cannot list or delete now is tried again at the next run."""
    now = now or timezone.now()
    store = storage()
    try:
        folders, _files = store.listdir("")
    except FileNotFoundError:
        return 0  # nothing was ever stored
    except Exception as exc:  # noqa: BLE001 - the storage is away: the next run
        log.warning("the Case panel's storage could not be listed (%s)", type(exc).__name__)
        return 0
    deleted = 0
    for folder in sorted(folders):
        if not folder.isdigit():
            continue
        tenant_id = int(folder)
        try:
            _dirs, names = store.listdir(folder)
        except Exception as exc:  # noqa: BLE001 - as above
            log.warning("tenant %s: the Case panel's files could not be listed (%s)", tenant_id,
                        type(exc).__name__)  # fmt: skip
            continue
        candidates = [f"{folder}/{name}" for name in names if _OUR_NAME.match(name)]
        if not candidates:
            continue
        named = _named_keys(tenant_id)
        for key in candidates:
            if key in named:
                continue
            try:
                if store.get_modified_time(key) > now - ORPHAN_AGE:
                    continue  # perhaps a reply being stored right now
                store.delete(key)
            except Exception as exc:  # noqa: BLE001 - gone meanwhile, or the storage is away: the next run
                log.warning("tenant %s: an orphaned Case panel file could not be deleted (%s)", tenant_id,
                            type(exc).__name__)  # fmt: skip
                continue
            deleted += 1
            log.info("tenant %s: deleted a Case panel file no message names (%s)", tenant_id, key)
    return deleted


def _named_keys(tenant_id: int) -> set[str]:
    """The storage keys the tenant's panel messages name whose files have not been deleted yet."""
    contents = (
        Message.objects.filter(
            tenant_id=tenant_id,
            direction=Message.Direction.OUTBOUND,
            kind="media",
            content__source="case_panel",
        )
        .exclude(content__has_key=DELETED_MARK)
        .values_list("content", flat=True)
    )
    return {
        key
        for content in contents.iterator(chunk_size=PURGE_BATCH)
        if (key := _stored_key(content, tenant_id))
    }


def _stored_key(content: dict, tenant_id: int) -> str:
    """The storage key a reply's file link names, if it is one of our signed links for this tenant's file."""
    for link in (content.get("panel_path"), content.get("media_url")):
        if not isinstance(link, str):
            continue
        try:
            match = resolve(urlsplit(link).path)
        except Resolver404:
            continue
        if match.view_name != "console:case-panel-file":
            continue
        try:
            # Expired long ago by design: only the signature counts here.
            data = signing.loads(match.kwargs["token"], salt=SALT)
        except (signing.BadSignature, ValueError, TypeError):
            continue
        key = data.get("k") if isinstance(data, dict) else None
        # A file is deleted only through a message of the tenant that stored it (keys start with its id).
        if isinstance(key, str) and data.get("t") == tenant_id and key.startswith(f"{tenant_id}/"):
            return key
    return ""


def storage() -> Storage:
    if "case_panel" in settings.STORAGES:
        return storages["case_panel"]
    return FileSystemStorage(location=settings.VAR_DIR / "case-panel-files")


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"
