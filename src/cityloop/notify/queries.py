"""What pages read from the outbox: a person's inbox and unread count, the admins' outbox."""

from __future__ import annotations

from django.db.models import QuerySet

from cityloop.notify.models import Message, Preference, Status


def unread(user) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Message.objects.filter(user=user, channel="inbox", read_at__isnull=True).count()


def inbox(user, limit: int = 100) -> list[Message]:
    return list(Message.objects.filter(user=user, channel="inbox").order_by("-created_at", "-id")[:limit])


def preference(user) -> Preference | None:
    return Preference.objects.filter(user=user).first()


def outbox(*, status: str = "", channel: str = "", event: str = "", about: str = "") -> QuerySet[Message]:
    qs = Message.objects.exclude(channel="inbox").order_by("-created_at", "-id")
    if status:
        qs = qs.filter(status=status)
    if channel:
        qs = qs.filter(channel=channel)
    if event:
        qs = qs.filter(event=event)
    if about:
        qs = qs.filter(about_id=about)
    return qs


def sent_about(kind: str, about_id: str) -> list[Message]:
    """Every message about one request or application, oldest first (the case's "who was told")."""
    return list(Message.objects.filter(about_kind=kind, about_id=about_id).order_by("created_at", "id"))


def backlog() -> dict[str, int]:
    """Outgoing messages per status (for /metrics and the outbox page; the in-app inbox is not sent)."""
    from django.db.models import Count

    counts = dict(
        Message.objects.exclude(channel="inbox")
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    return {s.value: counts.get(s.value, 0) for s in Status}


def oldest_due_age(now) -> float:
    """Seconds the oldest due, queued message has waited (0 when none): the delivery's lag."""
    oldest = (
        Message.objects.filter(status=Status.QUEUED, due_at__lte=now)
        .order_by("due_at")
        .values_list("due_at", flat=True)
        .first()
    )
    return max(0.0, (now - oldest).total_seconds()) if oldest else 0.0
