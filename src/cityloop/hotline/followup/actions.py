"""Follow-up (回访): the citizen's answer closes the case or, by the configured rules, reopens it."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy

from cityloop.core import actors, audit
from cityloop.core.actors import Actor, is_system, person
from cityloop.hotline import queries, rules
from cityloop.hotline.events import event, lock, set_status
from cityloop.hotline.followup.citizen import tell_citizen
from cityloop.hotline.models import FollowUp, Order, OrderStatus, Request, Status


def _in_follow_up_queue(request: Request) -> bool:
    return request.status == Status.REPLIED or (
        request.status == Status.MERGED and request.replied_at is not None and request.closed_at is None
    )


def already_answered(answer: FollowUp) -> ValidationError:
    """Why a second answer to one reply is refused, saying who gave the first (one answer per reply)."""
    at = timezone.localtime(answer.at).strftime("%Y-%m-%d %H:%M")
    if answer.channel == "phone":
        name = answer.operator.display_name if answer.operator is not None else "?"
        return ValidationError(
            gettext_lazy(
                "This reply was already answered by phone on %(at)s (recorded by %(operator)s); "
                "a reply gets one answer."
            ),
            params={"at": at, "operator": name},
        )
    return ValidationError(
        gettext_lazy(
            "The citizen already rated this reply online on %(at)s; do not call them: "
            "a reply gets one answer."
        ),
        params={"at": at},
    )


@transaction.atomic
def record_follow_up(
    request: Request,
    *,
    resolved: bool,
    satisfaction: str,
    comment: str = "",
    channel: str,
    actor: Actor,
    rating_link=None,
) -> FollowUp:
    """Record the citizen's answer: on the web by the citizen, or to an operator on the phone.

    On the web only two people may answer: the citizen's own account, or whoever holds the one-time
    rating code that was sent to the citizen (``rating_link``, checked and spent by ``rate_with_code``).
    Knowing the tracking number, or the access code that opens the status page, is not enough.
    """
    if channel == "phone":
        queries.require_dispatcher(actor)
        if is_system(actor):
            raise PermissionDenied("a phone follow-up is recorded by an operator")
    elif channel == "web":
        owner = (
            getattr(actor, "is_authenticated", False)
            and getattr(actor, "role", "") == "citizen"
            and actor.pk == request.citizen_id
        )
        by_link = rating_link is not None and rating_link.request_id == request.pk
        if not (by_link or owner):
            raise PermissionDenied("only the citizen who filed the request can rate it")
    else:
        raise ValidationError({"channel": "web or phone"})
    if satisfaction not in rules.SATISFACTION:
        raise ValidationError({"satisfaction": f"one of {', '.join(rules.SATISFACTION)}"})
    if not isinstance(resolved, bool):
        raise ValidationError({"resolved": "answer yes or no"})
    lock(request)  # a second tab, or the phone and the web at once: the second answer is refused
    answered = queries.answer_to_reply(request)
    if answered is not None:
        raise ValidationError({"request": already_answered(answered)})
    if not _in_follow_up_queue(request):
        raise ValidationError(
            {
                "request": ValidationError(
                    gettext_lazy("%(no)s is not waiting for a follow-up"), params={"no": request.tracking_no}
                )
            }
        )
    now = timezone.now()
    cfg = settings.HOTLINE
    primary = request.merged_into if request.status == Status.MERGED else request
    reopen = rules.reopen_allowed(
        resolved=resolved,
        satisfaction=satisfaction,
        reopen_count=primary.reopen_count,
        reopen_on=set(cfg["reopen_on"]),
        limit=cfg["reopen_limit"],
    )
    follow_up = FollowUp.objects.create(
        request=request,
        at=now,
        channel=channel,
        resolved=resolved,
        satisfaction=satisfaction,
        comment=(comment or "").strip(),
        reopened=reopen,
        operator=person(actor) if channel == "phone" else None,
        replied_at=request.replied_at,
    )
    request.resolved, request.satisfaction = resolved, satisfaction
    audit.record(
        actor,
        "request.follow_up",
        request,
        resolved=resolved,
        satisfaction=satisfaction,
        reopen=reopen,
        channel=channel,
        rating_link=rating_link.pk if rating_link is not None else None,
    )
    event(
        request,
        "followed_up",
        actor=actor,
        public=True,
        text=follow_up.comment,
        channel=channel,
        resolved=resolved,
        satisfaction=satisfaction,
    )
    if request.status == Status.MERGED:
        request.closed_at = now
        request.save(update_fields=["closed_at", "updated_at"])
    else:
        request.closed_at = now
        set_status(request, Status.CLOSED, actor=actor, action="request.close")
    if reopen and primary.status in (Status.CLOSED, Status.REPLIED):
        reopen_to_same_units(
            primary,
            actor=actor,
            reason=f"follow-up of {request.tracking_no}: resolved={resolved}, {satisfaction}",
        )
    return follow_up


def reopen_to_same_units(request: Request, *, actor: Actor, reason: str) -> list[Order]:
    """Send the case back to the units that replied last, with fresh limits."""
    from cityloop.hotline.handling.dispatch import dispatch_request

    lock(request)  # the primary of a merged request is not locked yet; a locked one is re-read, unchanged
    last = list(request.orders.filter(status=OrderStatus.REPLIED).order_by("-lead", "id"))
    units = [
        ("street", o.street, "reopened") if o.street_id else ("department", o.department, "reopened")
        for o in last
    ]
    request.reopen_count += 1
    request.closed_at = None
    request.replied_at = None
    request.save(update_fields=["reopen_count", "closed_at", "replied_at", "updated_at"])
    event(request, "reopened", actor=actor, public=True, text=reason)
    tell_citizen(request, "request.reopened", reason=reason)
    if not units:
        set_status(request, Status.DISPATCHED, actor=actor, action="request.reopen", reason=reason)
        return []
    # Reopening is the city's rule, not a dispatcher's choice: dispatch as the system.
    return dispatch_request(request, units=units, actor=actors.SYSTEM, note=reason)
