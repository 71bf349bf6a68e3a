"""Read what the city texted a citizen (the outbox), as the citizen's phone would."""

from __future__ import annotations

import re

from cityloop.notify.models import Message

EVENTS = {"access_code": "request.received", "rating_link": "request.rating_link"}
PATTERNS = {
    "access_code": re.compile(r"\b([2-9A-HJKMNP-Z]{5}-[2-9A-HJKMNP-Z]{5})\b"),
    "rating_link": re.compile(r"/hotline/rate/([2-9A-HJKMNP-Z]{10})/"),
}


def texted_code(tracking_no: str, kind: str = "access_code") -> str:
    """The code in the newest message of ``kind`` sent about the request."""
    message = (
        Message.objects.filter(about_kind="request", about_id=tracking_no, event=EVENTS[kind])
        .order_by("-created_at", "-id")
        .first()
    )
    assert message is not None, f"no {kind} message for {tracking_no}"
    return PATTERNS[kind].search(message.body).group(1)
