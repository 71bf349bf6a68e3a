"""Read what the city texted a citizen (the outbox), as the citizen's phone would."""

from __future__ import annotations

import re

from cityloop.hotline.models import CitizenMessage

PATTERNS = {
    "access_code": re.compile(r"\b([2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5})\b"),
    "rating_link": re.compile(r"/hotline/rate/([2-9A-HJKMNP-Z]{10})/"),
}


def texted_code(tracking_no: str, kind: str = "access_code") -> str:
    """The code in the newest message of ``kind`` sent about the request."""
    message = (
        CitizenMessage.objects.filter(request__tracking_no=tracking_no, kind=kind)
        .order_by("-created_at", "-id")
        .first()
    )
    assert message is not None, f"no {kind} message for {tracking_no}"
    return PATTERNS[kind].search(message.body).group(1)
