"""What the city sends the citizen: the access code and the one-time rating code; and the rating by code."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from cityloop.core import audit, permissions
from cityloop.core.actors import Actor, SystemActor, person
from cityloop.hotline.intake import access
from cityloop.hotline.models import FollowUp, RatingLink, Request
from cityloop.notify import actions as notify
from cityloop.notify import recipients

# The audit trail's name for a citizen who proved a one-time rating code (no account behind it).
RATING_CODE_ACTOR = SystemActor("citizen:rating-code")


def citizen(request: Request) -> list[recipients.To]:
    """The caller's own phone (or e-mail), in the language they filed in: used only for their own case."""
    return recipients.citizen(request.caller_phone, request.caller_email, request.language)


def tell_citizen(request: Request, event: str, **params) -> bool:
    """Queue ``event`` for the caller of ``request`` (in the action's transaction); False when they gave
    no phone and no e-mail."""
    note = _note(request, event, **params)
    return note is not None and bool(notify.queue_many([note]))


def _note(request: Request, event: str, **params) -> notify.Note | None:
    to = citizen(request)
    if not to:
        return None
    return notify.Note(
        event,
        tuple(to),
        {"no": request.tracking_no, **params},
        ("request", request.tracking_no),
        "/hotline/track/",
    )


def access_code_note(request: Request, code: str) -> notify.Note | None:
    """The receipt with the tracking number and access code (intake queues it with its batch)."""
    return _note(request, "request.received", code=access.display(code))


@transaction.atomic
def reissue_access_code(request: Request, *, actor: Actor) -> str:
    """A new access code for a caller who lost theirs (or filed before codes): the old one stops working.

    Only a dispatcher may do it, on the phone with the caller; the new code is texted to the caller
    too, and returned once so that the dispatcher can read it out.
    """
    from cityloop.hotline import queries

    if not queries.is_dispatcher(actor):
        raise PermissionDenied("only a hotline dispatcher may give a caller a new access code")
    code = access.new_code()
    request.access_code_hash = access.code_hash(code, purpose="track")
    request.save(update_fields=["access_code_hash", "updated_at"])
    texted = tell_citizen(request, "request.received", code=access.display(code))
    audit.record(actor, "request.access_code_reissue", request, texted=texted)
    return code


def issue_rating_link(request: Request, *, actor: Actor) -> str | None:
    """A fresh one-time rating code for the reply the citizen may now rate; earlier unused codes end.

    Sent to the caller's phone or e-mail; a request with neither gets none (the phone follow-up
    remains). Returns the code so that the caller of this action can hand it on, never stores it.
    """
    if not citizen(request):
        return None
    now = timezone.now()
    RatingLink.objects.filter(request=request, used_at__isnull=True, expires_at__gt=now).update(
        expires_at=now
    )
    code = access.new_code()
    days = settings.HOTLINE["rating_link_days"]
    link = RatingLink.objects.create(
        request=request,
        code_hash=access.code_hash(code, purpose="rate"),
        created_at=now,
        expires_at=now + timedelta(days=days),
    )
    tell_citizen(request, "request.rating_link", code=code, days=days)
    audit.record(actor, "request.rating_link", request, link=link.pk, expires_at=link.expires_at)
    return code


def find_rating_link(code: str) -> RatingLink | None:
    """The unused, unexpired link behind a rating code, or None (one answer for every kind of wrong)."""
    if not access.is_well_formed(code):
        return None
    link = (
        RatingLink.objects.filter(
            code_hash=access.code_hash(code, purpose="rate"),
            used_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .select_related("request")
        .first()
    )
    return link


@transaction.atomic
def rate_with_code(
    code: str, *, resolved: bool, satisfaction: str, comment: str = "", actor: Actor
) -> FollowUp:
    """The citizen's web rating, allowed once by the code sent to them; staff sessions may not rate."""
    from cityloop.hotline.followup.actions import record_follow_up

    if person(actor) is not None and permissions.role_of(actor) != "citizen":
        raise PermissionDenied("staff cannot rate a reply; the citizen rates it with the code sent to them")
    found = find_rating_link(code)
    if found is None:
        raise ValidationError({"code": "this rating code is unknown, used or expired"})
    link = RatingLink.objects.select_for_update().get(pk=found.pk)
    if link.used_at is not None:  # a second tab submitted while this one waited for the lock
        raise ValidationError({"code": "this rating code is unknown, used or expired"})
    follow_up = record_follow_up(
        link.request,
        resolved=resolved,
        satisfaction=satisfaction,
        comment=comment,
        channel="web",
        actor=RATING_CODE_ACTOR,
        rating_link=link,
    )
    link.used_at = timezone.now()
    link.save(update_fields=["used_at"])
    return follow_up
