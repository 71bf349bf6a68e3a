"""Queue messages inside the action's transaction; resend, read and preferences.

``queue`` writes the outbox rows with the change that causes them (it refuses to run outside a
transaction) and wakes the delivery worker only once that transaction has committed: a rolled-back
change sends nothing, a committed one is never forgotten (the scheduler's sweep picks up any wake-up
that was lost).
"""

from __future__ import annotations

import importlib
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from cityloop.core import audit, schedule
from cityloop.core import queries as core_queries
from cityloop.core.actors import Actor, signed_in
from cityloop.notify import texts
from cityloop.notify.models import Message, Preference, Status
from cityloop.notify.recipients import To

# Channels a person's quiet hours and digest apply to (the inbox is read when they choose to).
PERSONAL = {"email", "sms"}


def _wake() -> None:
    soon = getattr(schedule, "soon", None)  # the scheduler's "run it now"; the sweep catches up otherwise
    if soon is not None:
        soon("notify.deliver")


def _city_now(now: datetime) -> datetime:
    return now.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE))


def quiet_end(pref: Preference | None, now: datetime) -> datetime | None:
    """When ``pref``'s quiet hours end if ``now`` is inside them (city time), else None."""
    if (
        pref is None
        or pref.quiet_from is None
        or pref.quiet_until is None
        or pref.quiet_from == pref.quiet_until
    ):
        return None
    local = _city_now(now)
    start, end, t = pref.quiet_from, pref.quiet_until, local.time()
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    until = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
    if until <= local:
        until += timedelta(days=1)
    return until


def queue(
    event: str,
    to: Iterable[To],
    params: dict[str, Any],
    *,
    about: tuple[str, str] = ("", ""),
    link: str = "",
    key: str = "",
    urgent: bool | None = None,
) -> list[Message]:
    """Write one outbox row per recipient, in the caller's transaction, rendered in each one's language.

    ``key`` names a reminder or escalation so that it is queued once per recipient however often the
    job that finds it runs. Returns the rows written (none for a key already queued).
    """
    return queue_many([Note(event, tuple(to), params, about, link, key, urgent)])


@dataclass(frozen=True)
class Note:
    """One event to tell some people (``queue_many`` writes many in one statement)."""

    event: str
    to: tuple[To, ...]
    params: dict[str, Any]
    about: tuple[str, str] = ("", "")
    link: str = ""
    key: str = ""
    urgent: bool | None = None


def queue_many(notes: Iterable[Note]) -> list[Message]:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("notify.queue must run inside the action's transaction")
    notes = list(notes)
    now = timezone.now()
    user_ids = {r.user_id for n in notes for r in n.to if r.user_id}
    prefs = {p.user_id: p for p in Preference.objects.filter(user_id__in=user_ids)} if user_ids else {}
    webhooks = {event: _subscribers(event) for event in {n.event for n in notes}}
    keyed: list[Message] = []
    plain: list[Message] = []
    for note in notes:
        urgent = note.event in texts.URGENT if note.urgent is None else note.urgent
        recipients = list(dict.fromkeys(note.to)) + [To("webhook", sid) for sid in webhooks[note.event]]
        rendered: dict[str, tuple[str, str]] = {}
        for r in recipients:
            language = r.language or settings.LANGUAGE_CODE
            if language not in rendered:
                rendered[language] = texts.render(note.event, language, note.params)
            subject, body = rendered[language]
            pref = prefs.get(r.user_id) if r.user_id else None
            status, due = Status.QUEUED, now
            if pref is not None and r.channel in PERSONAL and not urgent:
                if pref.digest:
                    status = Status.DIGEST
                else:
                    due = quiet_end(pref, now) or now
            (keyed if note.key else plain).append(
                Message(
                    event=note.event,
                    channel=r.channel,
                    address=r.address,
                    user_id=r.user_id,
                    language=language,
                    subject=subject[:200],
                    body=body,
                    params=note.params,
                    about_kind=note.about[0],
                    about_id=str(note.about[1]),
                    link=note.link,
                    urgent=urgent,
                    key=note.key,
                    status=status,
                    created_at=now,
                    due_at=due,
                )
            )
    if keyed:
        taken = set(
            Message.objects.filter(key__in={m.key for m in keyed}).values_list("key", "channel", "address")
        )
        keyed = [m for m in keyed if (m.key, m.channel, m.address) not in taken]
        Message.objects.bulk_create(keyed, ignore_conflicts=True)
    if plain:
        Message.objects.bulk_create(plain)
    rows = plain + keyed
    if any(m.status == Status.QUEUED and m.channel != "inbox" for m in rows):
        transaction.on_commit(_wake)
    return rows


def _subscribers(event: str) -> list[str]:
    try:
        subscriptions = importlib.import_module("cityloop.notify.subscriptions")
    except ImportError:  # outgoing webhooks land with the channels
        return []
    return [str(s.pk) for s in subscriptions.subscribers(event)]


def _require_admin(actor: Actor) -> None:
    core_queries.require_admin(actor, to="resend messages or manage webhook subscriptions")


@transaction.atomic
def resend(ids: Iterable[int], *, actor: Actor) -> int:
    """Queue dead or sent messages again, now, with their attempts reset (same idempotency id)."""
    _require_admin(actor)
    ids = list(ids)
    rows = list(Message.objects.select_for_update().filter(pk__in=ids, status__in=[Status.DEAD, Status.SENT]))
    now = timezone.now()
    for m in rows:
        before = m.status
        m.status, m.due_at, m.attempts, m.lease_until, m.last_error = Status.QUEUED, now, 0, None, ""
        m.save(update_fields=["status", "due_at", "attempts", "lease_until", "last_error"])
        audit.record(actor, "notify.resend", m, before=before, after=Status.QUEUED, uid=str(m.uid))
    if rows:
        transaction.on_commit(_wake)
    return len(rows)


def mark_read(user, ids: Iterable[int] | None = None) -> int:
    """Mark the user's own inbox messages read (all of them when ``ids`` is None)."""
    qs = Message.objects.filter(user=user, channel="inbox", read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=list(ids))
    return qs.update(read_at=timezone.now())


@transaction.atomic
def save_preferences(
    user,
    *,
    language: str,
    email: bool,
    sms: bool,
    quiet_from: time | None,
    quiet_until: time | None,
    digest: bool,
    actor: Actor,
) -> Preference:
    """Store how ``user`` wants to hear; refused with field errors when it cannot work."""
    if signed_in(actor).pk != user.pk:
        raise PermissionDenied("people set their own notification preferences")
    # written once in English; a page shows them in its language, the API and commands in English
    errors: dict[str, Any] = {}
    if language and language not in dict(settings.LANGUAGES):
        errors["language"] = f"must be one of {', '.join(dict(settings.LANGUAGES))}"
    if (quiet_from is None) != (quiet_until is None):
        errors["quiet_until" if quiet_from else "quiet_from"] = gettext_lazy(
            "give both ends of the quiet hours, or neither"
        )
    if email and not user.email:
        errors["email"] = gettext_lazy("your account has no e-mail address")
    if sms and not user.phone:
        errors["sms"] = gettext_lazy("your account has no phone number")
    if errors:
        raise ValidationError(errors)
    pref, _ = Preference.objects.select_for_update().get_or_create(user=user)
    before = {
        f: str(getattr(pref, f)) for f in ("language", "email", "sms", "quiet_from", "quiet_until", "digest")
    }
    pref.language, pref.email, pref.sms = language, email, sms
    pref.quiet_from, pref.quiet_until, pref.digest = quiet_from, quiet_until, digest
    pref.save()
    after = {f: str(getattr(pref, f)) for f in before}
    audit.record(actor, "notify.preferences", pref, before=before, after=after)
    return pref


def subscribe(url: str, events: list[str], *, actor: Actor):
    """A webhook subscription of another system to event types (``["*"]`` for all); returns the row,
    whose secret the caller shows once. Refused with field errors naming the rule."""
    from urllib.parse import urlsplit

    from cityloop.notify.subscriptions import ALL, Subscription

    _require_admin(actor)
    errors: dict[str, str] = {}
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        errors["url"] = "must be an http:// or https:// address"
    unknown = [e for e in events if e != ALL and e not in texts.TEXTS]
    if not events:
        errors["events"] = "name at least one event type, or * for all"
    elif unknown:
        errors["events"] = (
            f"unknown event type(s) {', '.join(unknown)}; known: {', '.join(sorted(texts.TEXTS))}"
        )
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        sub = Subscription.objects.create(url=url, events=sorted(set(events)))
        audit.record(actor, "notify.subscribe", sub, after={"url": url, "events": sub.events})
    return sub


def unsubscribe(pk: int, *, actor: Actor) -> bool:
    """Stop a subscription (kept, inactive, for the outbox's history)."""
    from cityloop.notify.subscriptions import Subscription

    _require_admin(actor)
    with transaction.atomic():
        changed = Subscription.objects.filter(pk=pk, active=True).update(active=False)
        if changed:
            audit.record(
                actor, "notify.unsubscribe", Subscription.objects.get(pk=pk), before=True, after=False
            )
    return bool(changed)
