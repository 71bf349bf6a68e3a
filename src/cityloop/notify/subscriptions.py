"""Subscriptions to the city's outgoing webhooks: which system hears which events, where, signed how.

Another system (a district's own case system, a statistics office, an open-data portal) subscribes a
URL to event types; every message of those events is queued once per subscription (channel
``webhook``, address the subscription's id) and posted, signed, by :mod:`cityloop.notify.channels.webhooks`.
The secret follows Standard Webhooks: ``whsec_`` and the base64 of 32 random bytes.
"""

from __future__ import annotations

import base64
import secrets

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

ALL = "*"  # subscribes to every event


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


class Subscription(models.Model):
    url = models.URLField(_("URL"), max_length=500)
    secret = models.CharField(_("signing secret"), max_length=100, default=new_secret)
    # event types ("request.received", "order.new", …), or ["*"] for every event
    events = models.JSONField(_("events"), default=list)
    active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        app_label = "notify"
        db_table = "notify_subscription"
        ordering = ["id"]
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")

    def __str__(self) -> str:
        return f"{self.url} ({', '.join(self.events or [])})"

    def wants(self, event: str) -> bool:
        return self.active and (ALL in (self.events or []) or event in (self.events or []))


def subscribers(event: str) -> list[Subscription]:
    """The active subscriptions to ``event`` (the outbox queues one message for each)."""
    return [s for s in Subscription.objects.filter(active=True) if s.wants(event)]
