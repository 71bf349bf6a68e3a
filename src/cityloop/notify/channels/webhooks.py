"""Outgoing webhooks, signed as Standard Webhooks (https://www.standardwebhooks.com) sign them.

A message's ``address`` is the id of a :class:`~cityloop.notify.subscriptions.Subscription`. The request
is ``POST <url>`` with the JSON body ``{"id", "event", "created_at", "data"}`` (``data`` is the
message's parameters but the secret ones, ``texts.SECRET_PARAMS``) and three headers:

* ``webhook-id``: the message's uid, the same on every retry, so the receiver dedupes on it;
* ``webhook-timestamp``: the send time in whole Unix seconds (receivers refuse old ones: replays);
* ``webhook-signature``: ``v1,`` and the base64 of HMAC-SHA256 of ``f"{id}.{timestamp}.{body}"`` under
  the subscription's secret (the base64-decoded part after ``whsec_``).

A 2xx answer is delivered. 408, 429 and 5xx are :class:`Retry` (the spec's "retry" answers); 410 Gone
ends the subscription (the spec: the endpoint asks to be disabled) and, like any other answer,
is :class:`Refused`. A deleted or paused subscription is :class:`Refused` too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime
from typing import Any

from cityloop.notify import texts
from cityloop.notify.channels import _http
from cityloop.notify.channels.base import Outgoing, Refused, Retry

SECRET_PREFIX = "whsec_"  # noqa: S105 - the spec's prefix, not a secret


def secret_key(secret: str) -> bytes:
    """The HMAC key: the base64-decoded part of a ``whsec_`` secret, or a plain secret's UTF-8 bytes."""
    if secret.startswith(SECRET_PREFIX):
        try:
            return base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
        except ValueError:
            pass
    return secret.encode()


def sign(msg_id: str, timestamp: int, body: bytes, secret: str) -> str:
    """The ``webhook-signature`` header's value (one ``v1,`` signature)."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def payload(message: Outgoing) -> bytes:
    created = message.created_at or datetime.now(UTC)
    document: dict[str, Any] = {
        "id": message.uid,
        "event": message.event,
        "created_at": created.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        # never a citizen's access or rating code: another system has no business opening their case
        "data": {k: v for k, v in (message.params or {}).items() if k not in texts.SECRET_PARAMS},
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), default=str).encode()


class Webhooks:
    name = "webhook"
    one_endpoint = False  # each subscriber's own URL

    def __init__(self, *, timeout_s: float = 10.0) -> None:
        self.timeout_s = timeout_s

    def send(self, message: Outgoing) -> None:
        from cityloop.notify.subscriptions import Subscription

        subscription = (
            Subscription.objects.filter(pk=message.address).first() if message.address.isdigit() else None
        )
        if subscription is None:
            raise Refused(f"webhook subscription {message.address} no longer exists")
        if not subscription.active:
            raise Refused(f"webhook subscription {message.address} is paused")
        body = payload(message)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "webhook-id": message.uid,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": sign(message.uid, timestamp, body, subscription.secret),
        }
        status, _answer = _http.request(
            "POST",
            subscription.url,
            body=body,
            headers=headers,
            timeout=self.timeout_s,
            what=f"webhook {message.address}",
        )
        if 200 <= status < 300:
            return
        if status in (408, 429) or status >= 500:
            raise Retry(f"webhook {message.address}: HTTP {status}")
        if status == 410:
            Subscription.objects.filter(pk=subscription.pk).update(active=False)
            raise Refused(f"webhook {message.address}: HTTP 410 Gone, the subscription is paused")
        raise Refused(f"webhook {message.address}: HTTP {status}")

    def close(self) -> None:
        return None
