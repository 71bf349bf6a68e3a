"""What every channel is given and what it may raise (the delivery worker does the rest).

A channel sends one :class:`Outgoing` over a real protocol (SMTP, an SMS provider's HTTP API, a group
robot's webhook, a subscriber's webhook) and returns only when the far side has accepted it. It
raises :class:`Retry` for what may pass (a refused connection, a timeout, HTTP 5xx or 429) and
:class:`Refused` for what never will (a malformed address, a template the provider does not know,
HTTP 4xx): the worker retries the first with backoff and sends the second straight to the dead letters.
A :class:`Retry` raised because nothing answered at all says so (``unreachable=True``); when the channel
has one endpoint for every message (``one_endpoint``: the SMTP server, the SMS gateway) the worker
then puts the rest of the batch back without spending their attempts, instead of trying each.
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
    """The far side could not take it now; try again later.

    ``unreachable``: nothing answered (refused connection, timeout, a TLS or login failure before the
    message): the fault is the channel's, not the message's."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


class Refused(Exception):
    """The far side will never take it (bad address, unknown template, 4xx): a dead letter at once."""


class Channel(Protocol):
    name: str
    # every message goes to the same server, so one unreachable message means all are (see Retry)
    one_endpoint: bool

    def send(self, message: Outgoing) -> None: ...

    def close(self) -> None: ...
