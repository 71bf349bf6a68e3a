"""这也是我的问题: a citizen says an open request nearby is their problem too, instead of filing it again.

The request gains a supporter, counted on its pages; the supporter sees nothing of it but the public
summary the nearby list showed (category, place, status, distance).
"""

from __future__ import annotations

import re

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext_lazy

from cityloop.core import audit, permissions
from cityloop.core.actors import Actor, is_system
from cityloop.core.text import clean_line
from cityloop.hotline.events import lock
from cityloop.hotline.intake.actions import PHONE
from cityloop.hotline.models import Request, Supporter


def phone_key(phone: str) -> str:
    """A keyed hash of a phone number, the same for ``138 1234-5678`` and ``13812345678``."""
    digits = re.sub(r"[^0-9+]", "", phone)
    return salted_hmac("cityloop.hotline.supporter-phone", digits, algorithm="sha256").hexdigest()


@transaction.atomic
def support_request(request: Request, *, phone: str = "", actor: Actor) -> Supporter:
    """Record ``actor`` (a signed-in citizen, or anyone by the phone they give) as a supporter of an open
    request; once per citizen and request. Staff and system actors cannot: the count is citizens'."""
    if is_system(actor) or permissions.has_role(actor, permissions.STAFF):
        raise PermissionDenied("only a citizen can say a request is their problem too")
    citizen = actor if permissions.has_role(actor, permissions.CITIZEN) else None
    phone = clean_line(phone or "").strip()
    if citizen is None and not PHONE.match(phone):
        raise ValidationError(
            {
                "caller_phone": gettext_lazy(
                    "give your phone number (digits, 5 to 20) so your support is counted once"
                )
            }
        )
    lock(request)  # two clicks at once: the second sees the first and is refused
    if not request.is_open:
        raise ValidationError(
            {"request": gettext_lazy("this request is closed; please report your problem as a new request")}
        )
    if citizen is not None and request.citizen_id == citizen.pk:
        raise ValidationError({"request": gettext_lazy("this is your own request")})
    same = {"citizen": citizen} if citizen is not None else {"phone_hash": phone_key(phone)}
    if Supporter.objects.filter(request=request, **same).exists():
        raise ValidationError(
            {"request": gettext_lazy("you already said this is your problem too; each citizen counts once")}
        )
    supporter = Supporter.objects.create(request=request, at=timezone.now(), **same)
    audit.record(
        actor,
        "request.support",
        request,
        by="account" if citizen is not None else "phone",
        supporters=Supporter.objects.filter(request=request).count(),
    )
    return supporter
