"""What every channel is given and what it may raise (the delivery worker does the rest).

A channel sends one :class:`Outgoing` over a real protocol (SMTP, an SMS provider's HTTP API, a group
robot's webhook, a subscriber's webhook) and returns only when the far side has accepted it. It
raises :class:`Retry` for what may pass (a refused connection, a timeout, HTTP 5xx or 429) and
:class:`Refused` for what never will (a malformed address, a template the provider does not know,
HTTP 4xx): the worker retries the first with backoff and sends the second straight to the dead letters.
Every message carries ``uid``, the idempotency id a receiver dedupes on (a crash between "sent" and
"marked sent" sends it again).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Outgoing:
    uid: str  # the idempotency id (a UUID); receivers dedupe on it
    event: str  # e.g. "request.received", "whistle.summons"
    channel: str  # "email" | "sms" | "wecom" | "dingtalk" | "webhook" | "inbox"
    address: str  # an e-mail address, a phone number, a robot's name, a subscription's id, a user id
    language: str  # "zh-hans" | "en"
    subject: str
    body: str
    params: dict[str, Any] = field(default_factory=dict)  # the template's parameters (SMS templates)
    created_at: datetime | None = None


class Retry(Exception):
    """The far side could not take it now; try again later."""


class Refused(Exception):
    """The far side will never take it (bad address, unknown template, 4xx): a dead letter at once."""


class Channel(Protocol):
    name: str

    def send(self, message: Outgoing) -> None: ...

    def close(self) -> None: ...
