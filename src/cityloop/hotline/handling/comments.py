"""A citizen's (or their civic app's) comment on a request: a public line of the timeline."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from cityloop.core import audit
from cityloop.core.actors import Actor
from cityloop.hotline.events import event
from cityloop.hotline.models import Event, Request

MAX_COMMENT = 4000


@transaction.atomic
def add_citizen_comment(request: Request, *, text: str, actor: Actor, source: str, **data) -> Event:
    """Record a comment without changing the request's state: only units and follow-ups do that."""
    text = (text or "").strip()
    if not text:
        raise ValidationError({"description": "the comment cannot be empty"})
    if len(text) > MAX_COMMENT:
        raise ValidationError(
            {
                "description": _("at most %(max)d characters (got %(got)d)")
                % {"max": MAX_COMMENT, "got": len(text)}
            }
        )
    line = event(request, f"{source}_update", actor=actor, public=True, text=text, **data)
    audit.record(
        actor,
        f"request.{source}_update",
        request,
        update=line.pk,
        **{k: v for k, v in data.items() if k in ("client_status", "token")},
    )
    return line
