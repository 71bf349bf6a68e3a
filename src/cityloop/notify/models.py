"""The outbox (every message the city sends, one row each) and who wants what, how.

A message is written in the same transaction as the change that causes it; the delivery worker sends
it after the commit, retries with backoff and moves it to the dead letters after
``settings.NOTIFY["max_attempts"]`` failures. ``uid`` is the idempotency id every channel carries, so a
receiver can drop the second copy a crash between "sent" and "marked sent" may cause.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from cityloop.notify.subscriptions import Subscription  # noqa: F401 - the outgoing webhooks' table


class Status(models.TextChoices):
    QUEUED = "queued", _("Queued")
    SENT = "sent", pgettext_lazy("message", "Sent")
    DEAD = "dead", _("Dead letter")
    DIGEST = "digest", _("Waiting for the digest")
    DIGESTED = "digested", _("Sent in a digest")
    SKIPPED = "skipped", _("Not sent (channel off)")


class Message(models.Model):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    event = models.CharField(_("event"), max_length=48)
    channel = models.CharField(_("channel"), max_length=16)
    address = models.CharField(_("address"), max_length=200)
    # the staff member it is for (the in-app inbox, preferences); empty for a citizen's phone or e-mail
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    language = models.CharField(max_length=8)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("text"))
    params = models.JSONField(default=dict)
    # what it is about ("request", tracking number; "order", id; …): the outbox's filter and the link
    about_kind = models.CharField(max_length=16, blank=True)
    about_id = models.CharField(max_length=40, blank=True)
    link = models.CharField(max_length=300, blank=True)
    urgent = models.BooleanField(default=False)
    # A reminder or escalation names itself, so two schedulers (or two runs) queue it once.
    key = models.CharField(max_length=120, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    created_at = models.DateTimeField()
    due_at = models.DateTimeField()  # not before (quiet hours, backoff)
    lease_until = models.DateTimeField(null=True, blank=True)  # a worker is sending it
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)  # the in-app inbox

    class Meta:
        db_table = "notify_message"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "due_at"], name="notify_due"),
            models.Index(fields=["user", "channel", "read_at"], name="notify_inbox"),
            models.Index(fields=["about_kind", "about_id"], name="notify_about"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["key", "channel", "address"],
                condition=~models.Q(key=""),
                name="notify_message_once_per_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event} → {self.channel}:{self.address}"


class Preference(models.Model):
    """How one person wants to hear: which channels, quiet hours in the city's time, a daily digest."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    language = models.CharField(_("language"), max_length=8, blank=True)
    email = models.BooleanField(_("e-mail"), default=True)
    sms = models.BooleanField(_("text message"), default=False)
    quiet_from = models.TimeField(_("quiet from"), null=True, blank=True)
    quiet_until = models.TimeField(_("quiet until"), null=True, blank=True)
    digest = models.BooleanField(_("one daily digest for what is not urgent"), default=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        db_table = "notify_preference"
