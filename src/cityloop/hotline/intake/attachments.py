"""Photos added to a request after it was filed (the API's second step after the JSON submit)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from cityloop.core import audit
from cityloop.core.actors import Actor
from cityloop.hotline import queries
from cityloop.hotline.events import event
from cityloop.hotline.intake import photos
from cityloop.hotline.models import Attachment, Request

MAX_PHOTOS = 10


def attach_photo(
    request: Request, *, name: str, data: bytes, keep_location: bool, actor: Actor, stage: str = "report"
) -> Attachment:
    """Check the photo by content, strip its EXIF location unless kept, and attach it to an open request."""
    if not queries.requests_for(actor).filter(pk=request.pk).exists():
        raise PermissionDenied("only someone who may see the request can add photos to it")
    if not request.is_open:
        raise ValidationError(
            {
                "request": _("%(no)s is %(status)s; photos can no longer be added")
                % {"no": request.tracking_no, "status": request.get_status_display()}
            }
        )
    if stage not in ("report", "result"):
        raise ValidationError({"stage": "report (the problem) or result (the finished work)"})
    # Checked and re-encoded outside the transaction: a 10 MB image must not hold the write lock.
    content, kind = photos.clean_photo(name or "photo", data, keep_location=keep_location, field="photo")
    with transaction.atomic():
        if request.attachments.count() >= MAX_PHOTOS:
            raise ValidationError({"photo": _("a request holds at most %(n)d photos") % {"n": MAX_PHOTOS}})
        attachment = Attachment.objects.create(
            request=request,
            file=content,
            content_type=kind,
            size=content.size,
            location_kept=keep_location,
            stage=stage,
        )
        event(request, "photo", actor=actor, public=True, content_type=kind, size=content.size)
        audit.record(
            actor,
            "request.attach_photo",
            request,
            attachment=attachment.pk,
            kind=kind,
            size=content.size,
            location_kept=keep_location,
            stage=stage,
        )
    return attachment
