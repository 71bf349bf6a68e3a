"""The delivery worker: claim due messages, send each over its channel, mark them.

Claiming sets a lease; a worker that dies mid-batch leaves its lease to run out and another worker
sends those messages again (at most the messages in flight at the crash are sent twice; the
idempotency id lets receivers drop them). Marking happens every ``MARK_EVERY`` messages so that the
in-flight window stays small. A message-specific failure counts an attempt and backs off
exponentially; after ``max_attempts`` it becomes a dead letter. A channel that cannot be reached
puts the rest of its batch back without counting attempts (an outage is not the messages' fault).
"""

from __future__ import annotations

import logging
import random
import time
from collections import defaultdict
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from cityloop.notify import texts
from cityloop.notify.channels import base, channel
from cityloop.notify.models import Message, Status

log = logging.getLogger("cityloop.notify")
MARK_EVERY = 20
# The stored error of a message that waited for its channel to come back (the outbox page shows it;
# the worker calls these messages back when the channel answers again).
UNREACHABLE = "channel unreachable: "
# Channels this process found unreachable. The first message that gets through again calls back the
# messages put back during the outage: their backoff waited for the channel, and it has answered
# (without this a 60 s SMTP outage left some messages waiting minutes after the server was back).
_down: set[str] = set()


def _settings() -> dict:
    return getattr(settings, "NOTIFY", {}) or {}


def backoff(attempts: int) -> timedelta:
    base_s = float(_settings().get("backoff_s", 5))
    cap_s = float(_settings().get("backoff_max_s", 3600))
    delay = min(cap_s, base_s * 2 ** max(0, attempts - 1))
    return timedelta(seconds=delay * random.uniform(0.8, 1.2))  # noqa: S311 - jitter, not a secret


def _claim(limit: int, now: datetime, lease_s: float) -> list[Message]:
    due = Q(status=Status.QUEUED, due_at__lte=now) & (Q(lease_until__isnull=True) | Q(lease_until__lt=now))
    # Look before taking the write lock: an idle worker polls often, and on SQLite every transaction
    # here takes the database's one write lock (IMMEDIATE) away from intake.
    if not Message.objects.filter(due).exists():
        return []
    with transaction.atomic():
        qs = Message.objects.filter(due).order_by("due_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            qs = qs.select_for_update(skip_locked=True)
        ids = list(qs.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        Message.objects.filter(pk__in=ids).update(lease_until=now + timedelta(seconds=lease_s))
        return list(Message.objects.filter(pk__in=ids).order_by("due_at", "id"))


def _outgoing(m: Message) -> base.Outgoing:
    return base.Outgoing(
        uid=str(m.uid),
        event=m.event,
        channel=m.channel,
        address=m.address,
        language=m.language,
        subject=m.subject,
        body=m.body,
        params=texts.in_language(m.params, m.language),  # what an SMS template or a webhook gets
        created_at=m.created_at,
    )


def _mark_sent(ids: list[int], messages: dict[int, Message]) -> None:
    if not ids:
        return
    with transaction.atomic():
        Message.objects.filter(pk__in=ids, status=Status.QUEUED).update(
            status=Status.SENT, sent_at=timezone.now(), lease_until=None, last_error=""
        )
        _redact([messages[i] for i in ids])


def _redact(messages: list[Message]) -> None:
    """Blank the secrets (access and rating codes) of messages that went out or never will."""
    for m in messages:
        clean = texts.redacted(m.event, m.language, m.params)
        if clean is not None:
            Message.objects.filter(pk=m.pk).update(params=clean[0], body=clean[1])


def _fail(m: Message, error: str, *, permanent: bool) -> str:
    attempts = m.attempts + 1
    dead = permanent or attempts >= int(_settings().get("max_attempts", 8))
    Message.objects.filter(pk=m.pk).update(
        attempts=attempts,
        last_error=error[:2000],
        lease_until=None,
        status=Status.DEAD if dead else Status.QUEUED,
        due_at=timezone.now() + (timedelta(0) if dead else backoff(attempts)),
    )
    return "dead" if dead else "retry"


def _channel_is_back(name: str) -> None:
    _down.discard(name)
    now = timezone.now()
    called = Message.objects.filter(
        last_error__startswith=UNREACHABLE,
        status=Status.QUEUED,
        channel=name,
        due_at__gt=now,
        lease_until__isnull=True,
    ).update(due_at=now)
    if called:
        log.info("channel %s answers again; %d messages put back during the outage are due now", name, called)


def _put_back(ids: list[int], error: str) -> None:
    if ids:
        Message.objects.filter(pk__in=ids, status=Status.QUEUED).update(
            lease_until=None, last_error=error[:2000], due_at=timezone.now() + backoff(1)
        )


def deliver_batch(limit: int = 200, *, lease_s: float = 60.0) -> dict[str, int]:
    """Send one batch of due messages; returns how many were sent, retried, dead, skipped."""
    counts = {"sent": 0, "retry": 0, "dead": 0, "skipped": 0}
    batch = _claim(limit, timezone.now(), lease_s)
    by_channel: dict[str, list[Message]] = defaultdict(list)
    by_id = {m.pk: m for m in batch}
    for m in batch:
        by_channel[m.channel].append(m)
    for name, messages in by_channel.items():
        ch = channel(name)
        if ch is None:
            Message.objects.filter(pk__in=[m.pk for m in messages]).update(
                status=Status.SKIPPED, lease_until=None, last_error=f"channel {name} is off"
            )
            _redact(messages)
            counts["skipped"] += len(messages)
            continue
        sent: list[int] = []
        try:
            for i, m in enumerate(messages):
                try:
                    ch.send(_outgoing(m))
                except base.Refused as exc:
                    counts[_fail(m, str(exc), permanent=True)] += 1
                    continue
                except base.Retry as exc:
                    if exc.unreachable and ch.one_endpoint:
                        # the channel is down: the rest waits without spending attempts
                        _down.add(name)
                        counts[_fail(m, f"{UNREACHABLE}{exc}", permanent=False)] += 1
                        _put_back([x.pk for x in messages[i + 1 :]], f"{UNREACHABLE}{exc}")
                        counts["retry"] += len(messages) - i - 1
                        break
                    counts[_fail(m, str(exc), permanent=False)] += 1
                    continue
                except Exception as exc:  # noqa: BLE001 - a channel's bug must not lose the batch
                    log.exception("channel %s failed on message %s", name, m.uid)
                    counts[_fail(m, f"{type(exc).__name__}: {exc}", permanent=False)] += 1
                    continue
                sent.append(m.pk)
                if name in _down:
                    _channel_is_back(name)
                if len(sent) >= MARK_EVERY:
                    _mark_sent(sent, by_id)
                    counts["sent"] += len(sent)
                    sent = []
        finally:
            _mark_sent(sent, by_id)
            counts["sent"] += len(sent)
            ch.close()
    return counts


def deliver_due(*, limit: int = 200, budget_s: float = 50.0) -> dict[str, int]:
    """Deliver batches until nothing is due or ``budget_s`` has passed."""
    total = {"sent": 0, "retry": 0, "dead": 0, "skipped": 0}
    started = time.monotonic()
    while time.monotonic() - started < budget_s:
        counts = deliver_batch(limit)
        for k, v in counts.items():
            total[k] += v
        if not any(counts.values()):
            break
    return total


def job() -> str:
    c = deliver_due()
    backlog = Message.objects.filter(status=Status.QUEUED).count()
    return (
        f"sent {c['sent']}, retried {c['retry']}, dead {c['dead']}, skipped {c['skipped']}; {backlog} queued"
    )


def digest_job() -> str:
    """Once a day at the digest hour (city time), each person's held messages become one per channel."""
    hour = int(_settings().get("digest_hour", 8))
    now = timezone.now()
    local = now.astimezone(timezone.get_default_timezone())
    cutoff = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if cutoff > local:
        cutoff -= timedelta(days=1)
    made = 0
    groups: dict[tuple[int, str, str, str], list[Message]] = defaultdict(list)
    for m in Message.objects.filter(status=Status.DIGEST, created_at__lt=cutoff).order_by("created_at", "id"):
        groups[(m.user_id or 0, m.channel, m.address, m.language)].append(m)
    for (user_id, ch, address, language), messages in groups.items():
        with transaction.atomic():
            ids = [m.pk for m in messages]
            if Message.objects.filter(pk__in=ids, status=Status.DIGEST).update(status=Status.DIGESTED) != len(
                ids
            ):
                continue  # another scheduler took (part of) it; it makes that digest
            lines = "\n".join(f"- {m.subject}" for m in messages)
            params = {"count": len(messages), "lines": lines}
            subject, body = texts.render("digest", language, params)
            Message.objects.create(
                event="digest",
                channel=ch,
                address=address,
                user_id=user_id or None,
                language=language,
                subject=subject,
                body=body,
                params=params,
                key=f"digest:{cutoff.date().isoformat()}:{user_id}",
                created_at=now,
                due_at=now,
            )
            made += 1
    return f"{made} digests"
