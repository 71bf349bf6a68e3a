"""Outgoing webhooks signed as Standard Webhooks sign them, subscribed per event type.

The fake receiver verifies each delivery as the spec's reference libraries do: the three headers, a
timestamp within five minutes, and ``v1,`` + base64 HMAC-SHA256 of ``id.timestamp.body`` under the
base64-decoded ``whsec_`` secret, with the raw body; it dedupes on webhook-id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from cityloop.notify import actions, channels, deliver
from cityloop.notify.channels import webhooks
from cityloop.notify.channels.base import Outgoing, Refused, Retry
from cityloop.notify.models import Message, Status
from cityloop.notify.recipients import To
from cityloop.notify.subscriptions import Subscription, subscribers
from tests.notify.fake_http import Provider, Seen, closed_port, serve

pytestmark = pytest.mark.django_db
TOLERANCE_S = 5 * 60


def _verify(secret: str, seen: Seen) -> str | None:
    """The receiver's check (Standard Webhooks): why the delivery is refused, or None."""
    msg_id = seen.headers.get("webhook-id")
    stamp = seen.headers.get("webhook-timestamp")
    signatures = seen.headers.get("webhook-signature")
    if not (msg_id and stamp and signatures):
        return "missing headers"
    if not stamp.isdigit() or abs(int(stamp) - time.time()) > TOLERANCE_S:
        return "timestamp too old or too new"
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{msg_id}.{stamp}.".encode() + seen.body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    for entry in signatures.split(" "):
        version, _, signature = entry.partition(",")
        if version == "v1" and hmac.compare_digest(signature, expected):
            return None
    return "no matching signature"


def _receiver(provider: Provider, seen: Seen) -> tuple[int, bytes]:
    if seen.method != "POST" or seen.headers.get("content-type") != "application/json":
        return 415, b""
    problem = _verify(provider.state["secret"], seen)
    if problem:
        provider.state.setdefault("rejected", []).append(problem)
        return 401, json.dumps({"error": problem}).encode()
    modes = {"500": 503, "throttle": 429, "invalid": 400, "gone": 410}
    if provider.mode in modes:
        return modes[provider.mode], b""
    seen_ids = provider.state.setdefault("ids", set())
    if seen.headers["webhook-id"] not in seen_ids:  # a second copy is acknowledged and dropped
        seen_ids.add(seen.headers["webhook-id"])
        provider.state.setdefault("delivered", []).append(json.loads(seen.body))
    return 204, b""


@pytest.fixture
def receiver():
    with serve(_receiver) as provider:
        yield provider


@pytest.fixture
def subscription(receiver):
    sub = Subscription.objects.create(url=f"{receiver.url}/hooks/cityloop", events=["request.received"])
    receiver.state["secret"] = sub.secret
    return sub


def _message(sub: Subscription, event: str = "request.received") -> Outgoing:
    return Outgoing(
        uid=str(uuid.uuid4()),
        event=event,
        channel="webhook",
        address=str(sub.pk),
        language="zh-hans",
        subject="诉求 R20261118-00001 已受理",
        body="…",
        params={"no": "R20261118-00001", "category": "01.01.01", "count": 2},
        created_at=timezone.now(),
    )


def test_the_signature_is_the_specs_test_vector():
    # the Standard Webhooks reference libraries' own example
    assert (
        webhooks.sign(
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            b'{"test": 2432232314}',
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        )
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )


def test_a_delivery_verifies_and_carries_the_uid_event_and_params(receiver, subscription):
    message = _message(subscription)
    webhooks.Webhooks(timeout_s=5).send(message)
    (seen,) = receiver.requests
    assert seen.path == "/hooks/cityloop"
    assert seen.headers["webhook-id"] == message.uid
    assert abs(int(seen.headers["webhook-timestamp"]) - time.time()) < 60  # the pinned clock
    (doc,) = receiver.state["delivered"]
    assert doc == {
        "id": message.uid,
        "event": "request.received",
        "created_at": message.created_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "data": {"no": "R20261118-00001", "category": "01.01.01", "count": 2},
    }


def test_a_second_copy_has_the_same_id_so_the_receiver_drops_it(receiver, subscription):
    message = _message(subscription)
    channel = webhooks.Webhooks(timeout_s=5)
    channel.send(message)
    channel.send(message)
    assert len(receiver.requests) == 2 and len(receiver.state["delivered"]) == 1


def test_a_wrong_secret_is_refused(receiver, subscription):
    Subscription.objects.filter(pk=subscription.pk).update(
        secret="whsec_" + base64.b64encode(b"x" * 32).decode()
    )
    with pytest.raises(Refused, match="HTTP 401"):
        webhooks.Webhooks(timeout_s=5).send(_message(subscription))
    assert receiver.state["rejected"] == ["no matching signature"]


def test_a_stale_timestamp_is_refused_by_the_receiver(receiver, subscription, _pinned_clock):
    message = _message(subscription)
    body = webhooks.payload(message)
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "webhook-id": message.uid,
        "webhook-timestamp": str(stamp),
        "webhook-signature": webhooks.sign(message.uid, stamp, body, subscription.secret),
    }
    _pinned_clock.shift(timedelta(minutes=10))  # replayed ten minutes later
    status, _ = webhooks._http.request("POST", subscription.url, body=body, headers=headers, timeout=5)
    assert status == 401 and receiver.state["rejected"] == ["timestamp too old or too new"]


def test_retry_answers_and_outages_are_retried(receiver, subscription):
    channel = webhooks.Webhooks(timeout_s=5)
    receiver.mode = "500"
    with pytest.raises(Retry, match="HTTP 503"):
        channel.send(_message(subscription))
    receiver.mode = "throttle"
    with pytest.raises(Retry, match="HTTP 429"):
        channel.send(_message(subscription))
    receiver.mode, receiver.slow_s = "slow", 1.5
    with pytest.raises(Retry, match="timed out"):
        webhooks.Webhooks(timeout_s=0.3).send(_message(subscription))
    Subscription.objects.filter(pk=subscription.pk).update(url=f"http://127.0.0.1:{closed_port()}/")
    with pytest.raises(Retry, match="unreachable"):
        channel.send(_message(subscription))


def test_a_client_error_is_refused_and_410_pauses_the_subscription(receiver, subscription):
    channel = webhooks.Webhooks(timeout_s=5)
    receiver.mode = "invalid"
    with pytest.raises(Refused, match="HTTP 400"):
        channel.send(_message(subscription))
    receiver.mode = "gone"
    with pytest.raises(Refused, match="410"):
        channel.send(_message(subscription))
    subscription.refresh_from_db()
    assert not subscription.active
    with pytest.raises(Refused, match="paused"):
        channel.send(_message(subscription))
    with pytest.raises(Refused, match="no longer exists"):
        channel.send(
            Outgoing(
                uid="u", event="e", channel="webhook", address="999999", language="en", subject="", body=""
            )
        )


def test_subscribers_are_per_event_type():
    a = Subscription.objects.create(url="https://a.example/hook", events=["request.received", "order.new"])
    b = Subscription.objects.create(url="https://b.example/hook", events=["*"])
    Subscription.objects.create(url="https://c.example/hook", events=["order.new"], active=False)
    assert subscribers("request.received") == [a, b]
    assert subscribers("order.new") == [a, b]
    assert subscribers("brain.case") == [b]
    assert a.secret.startswith("whsec_") and len(base64.b64decode(a.secret[6:])) == 32
    assert a.secret != b.secret


def test_the_outbox_fans_out_to_subscribers_and_delivers_signed(receiver, subscription, monkeypatch):
    monkeypatch.delenv("CITYLOOP_NOTIFY_WEBHOOKS", raising=False)
    params = {"no": "R20261118-00001", "code": "7Q4K-2M9P"}
    with transaction.atomic():
        actions.queue("request.received", [To("inbox", "1")], params, about=("request", "R20261118-00001"))
    (row,) = Message.objects.filter(channel="webhook")
    assert row.address == str(subscription.pk)
    deliver.deliver_batch()
    row.refresh_from_db()
    assert row.status == Status.SENT
    (doc,) = receiver.state["delivered"]
    assert doc["id"] == str(row.uid)
    assert doc["data"] == {"no": "R20261118-00001"}  # the citizen's access code stays with the citizen


def test_webhooks_can_be_switched_off(monkeypatch):
    monkeypatch.setenv("CITYLOOP_NOTIFY_WEBHOOKS", "off")
    assert channels.channel("webhook") is None
    monkeypatch.setenv("CITYLOOP_NOTIFY_WEBHOOKS", "on")
    assert channels.channel("webhook") is not None
