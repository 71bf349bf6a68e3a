"""Photos of the finished work chosen with a reply that the reply check flagged (答复意见质量).

A flagged reply comes back to the unit to edit or to send anyway; a file input cannot be filled again
by the server, so the photos chosen with it are staged: checked and cleaned as any photo is
(``photos.clean_photo``: by content, size and pixels, GPS removed), kept in the attachments' storage
under ``hotline/staged/<order>/``, and named on the page by a signed token (a hidden field) that only
the same person's next post on the same order can use. The page shows their thumbnails, each with a
box to remove it. Sending the reply attaches them (``attach_photo`` checks them again) and deletes the
staged files; staged files never sent are deleted when older than ``MAX_AGE``, on the next staging.
Staging, removing and expiring are audited."""

from __future__ import annotations

import base64
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.core import signing
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.translation import gettext as _

from cityloop.core import audit
from cityloop.core.actors import SYSTEM, Actor
from cityloop.hotline.intake import photos

log = logging.getLogger("cityloop.hotline")

FOLDER = "hotline/staged"
MAX_AGE = timedelta(hours=24)  # a reply left unsent this long loses its staged photos
_SALT = "cityloop.hotline.reply-photo"


@dataclass(frozen=True)
class Staged:
    token: str
    name: str  # the file in the storage
    kind: str
    original: str  # the name the photo was chosen under

    def data_url(self) -> str:
        """The thumbnail inline (data: URL): the page shows it without a URL of its own."""
        with default_storage.open(self.name, "rb") as fileobj:
            small = photos.thumbnail(fileobj)
        return "data:image/jpeg;base64," + base64.b64encode(small).decode("ascii")

    def read(self) -> bytes:
        with default_storage.open(self.name, "rb") as fileobj:
            return fileobj.read()


def stage(order, upload, *, actor: Actor) -> Staged:
    """Check and keep one uploaded photo for the reply of ``order`` by ``actor``; ValidationError
    naming the field ``photos`` when it is not a photo."""
    clean_expired()
    original = (upload.name or "photo")[:100]
    content, kind = photos.clean_photo(original, upload.read(), keep_location=False, field="photos")
    name = default_storage.save(f"{FOLDER}/{order.pk}/{secrets.token_hex(16)}.{kind}", content)
    token = signing.dumps({"o": order.pk, "u": actor.pk, "f": name, "k": kind, "n": original}, salt=_SALT)
    audit.record(
        actor, "order.stage_reply_photo", order, file=name, kind=kind, size=content.size, original=original
    )
    return Staged(token, name, kind, original)


def load(tokens: list[str], *, order, actor: Actor) -> list[Staged]:
    """The staged photos the tokens name, in order, without repeats; ValidationError (field
    ``photos``) for a token that is not this person's for this order, expired, or whose file is gone."""
    found: list[Staged] = []
    for token in dict.fromkeys(t for t in tokens if t):
        try:
            data = signing.loads(token, salt=_SALT, max_age=MAX_AGE)
        except signing.BadSignature:
            raise ValidationError(
                {"photos": _("A kept photo has expired or is not valid any more: choose it again.")}
            ) from None
        if (
            data.get("o") != order.pk
            or data.get("u") != actor.pk
            or not str(data.get("f", "")).startswith(f"{FOLDER}/{order.pk}/")
        ):
            raise ValidationError({"photos": _("A kept photo belongs to another reply: choose it again.")})
        if not default_storage.exists(data["f"]):
            raise ValidationError(
                {"photos": _("A kept photo has expired or is not valid any more: choose it again.")}
            )
        found.append(Staged(token, data["f"], data["k"], data.get("n", "photo")))
    return found


def discard(staged: list[Staged], *, order, actor: Actor, sent: bool) -> None:
    """Delete staged files: after the reply attached them (``sent``), or removed by the unit."""
    for photo in staged:
        default_storage.delete(photo.name)
        if not sent:
            audit.record(actor, "order.remove_reply_photo", order, file=photo.name, original=photo.original)


def clean_expired(now=None) -> int:
    """Delete staged files older than MAX_AGE (their tokens have expired too); returns how many."""
    cutoff = (now or timezone.now()) - MAX_AGE
    removed = 0
    try:
        folders, _files = default_storage.listdir(FOLDER)
    except FileNotFoundError:
        return 0
    for folder in folders:
        _dirs, names = default_storage.listdir(f"{FOLDER}/{folder}")
        for name in names:
            path = f"{FOLDER}/{folder}/{name}"
            try:
                if default_storage.get_modified_time(path) >= cutoff:
                    continue
                default_storage.delete(path)
            except FileNotFoundError:
                continue  # another worker removed it first
            audit.record(SYSTEM, "order.expire_reply_photo", None, order=folder, file=path)
            removed += 1
    if removed:
        log.info("removed %d staged reply photos older than %s", removed, MAX_AGE)
    return removed
