"""The plain-socket MQTT 3.1.1 of the worker and the benchmark publishers (cityloop.brain.ingest.wire):
packets cut out of a stream at any boundary, and, through a real Mosquitto, a message not acknowledged
comes again to the same client id while an acknowledged one does not."""

from __future__ import annotations

import time
import uuid

import pytest

from cityloop.brain.ingest import bus, wire


def test_packets_are_cut_out_of_a_stream_split_at_every_byte():
    big = b"x" * 300  # a remaining length of two bytes
    stream = (
        wire.publish_packet("a/devices/M1/reading", b'{"t":1,"v":2}', 7)
        + wire.publish_packet("a/gateways/G/batch", big, 65535)
        + wire.pubacks([1, 258])
    )
    for cut in range(len(stream) + 1):
        packets, offset = wire.split(stream[:cut])
        more, rest = wire.split(stream[offset:])
        assert offset + rest == len(stream)
        got = packets + [(f, s + offset, e + offset) for f, s, e in more]
        assert [f >> 4 for f, _s, _e in got] == [wire.PUBLISH, wire.PUBLISH, wire.PUBACK, wire.PUBACK]
    (_f, s, e) = wire.split(stream)[0][1]
    body = stream[s:e]
    assert body.endswith(big) and body[2 : 2 + 18] == b"a/gateways/G/batch"
    assert wire.pubacks([1, 258]) == b"\x40\x02\x00\x01\x40\x02\x01\x02"


def test_a_length_beyond_four_bytes_is_refused():
    with pytest.raises(wire.MqttError, match="malformed"):
        wire.split(b"\x30\xff\xff\xff\xff\x01")


def _subscriber(broker, client_id: str, *, wake_at: int = 10, wake_bytes: int = 2_000_000) -> wire.Subscriber:
    return wire.Subscriber(
        client_id,
        "127.0.0.1",
        broker.port,
        [f"$share/g/{broker.prefix}/devices/+/reading"],
        username="cityloop-worker",
        password="worker-pw",
        wake_at=wake_at,
        wake_bytes=wake_bytes,
    )


def _take_all(sub: wire.Subscriber, n: int, timeout: float = 10) -> wire.Taken:
    got = wire.Taken()
    deadline = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        t = sub.take(wait=0.2)
        got.topics += t.topics
        got.payloads += t.payloads
        got.mids += t.mids
        got.connection = t.connection
    return got


def test_unacknowledged_messages_come_again_and_acknowledged_ones_do_not(broker):
    client_id = f"wire-{uuid.uuid4().hex[:6]}"
    messages = [(bus.device_topic(f"M{i}", broker.prefix), f'{{"t":{i},"v":1}}'.encode()) for i in range(500)]
    sub = _subscriber(broker, client_id)
    acked = wire.publish(
        "127.0.0.1",
        broker.port,
        "wire-pub",
        messages,
        username="bench-publisher",
        password="pub-pw",
        window=64,
    )
    assert acked == 500
    first = _take_all(sub, 500)
    assert sorted(first.payloads) == sorted(p for _t, p in messages)
    assert all(first.mids)
    # acknowledge the first 200 only, then go away without a word
    part = wire.Taken(first.topics[:200], first.payloads[:200], first.mids[:200], first.connection)
    assert sub.ack(part)
    time.sleep(0.3)
    sub.close()
    again = _subscriber(broker, client_id)
    try:
        second = _take_all(again, 300)
        time.sleep(0.5)
        late = again.take()
        assert sorted(second.payloads + late.payloads) == sorted(first.payloads[200:])
    finally:
        again.close()


def test_a_refused_connection_says_why(broker):
    with pytest.raises(
        wire.MqttError, match="refused the connection: (bad user name or password|not authorized)"
    ):
        wire.Subscriber(
            "wire-bad", "127.0.0.1", broker.port, [f"{broker.prefix}/#"], username="M1", password="wrong"
        )


def test_after_a_lost_connection_the_old_messages_are_never_acknowledged_and_come_again(broker):
    import socket

    client_id = f"wire-{uuid.uuid4().hex[:6]}"
    messages = [(bus.device_topic(f"M{i}", broker.prefix), f'{{"t":{i},"v":2}}'.encode()) for i in range(100)]
    sub = _subscriber(broker, client_id)
    try:
        wire.publish(
            "127.0.0.1", broker.port, "wire-pub2", messages, username="bench-publisher", password="pub-pw"
        )
        first = _take_all(sub, 100)
        assert len(first) == 100
        sub._sock.shutdown(socket.SHUT_RDWR)  # the connection breaks under the reader
        deadline = time.monotonic() + 10
        while sub.reconnects < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sub.reconnects == 1 and sub.connection == 1
        assert not sub.ack(first), "packet ids of the old connection would name other messages now"
        again = _take_all(sub, 100)
        assert sorted(again.payloads) == sorted(first.payloads) and again.connection == 1
        assert sub.ack(again)
    finally:
        sub.close()


def test_a_waiting_take_returns_once_enough_payload_bytes_are_in(broker):
    """A gateway's message holds hundreds of readings: a worker waits for a count of messages or of
    bytes, whichever comes first, not its whole window while gateway batches pile up."""
    client_id = f"wire-{uuid.uuid4().hex[:6]}"
    sub = _subscriber(broker, client_id, wake_at=10_000, wake_bytes=5_000)  # 10,000: never reached by 20
    try:
        payload = b"x" * 600
        messages = [(bus.device_topic(f"G{i}", broker.prefix), payload) for i in range(20)]
        acked = wire.publish(
            "127.0.0.1",
            broker.port,
            "wire-pub-bytes",
            messages,
            username="bench-publisher",
            password="pub-pw",
        )
        assert acked == 20
        deadline = time.monotonic() + 10
        while sub.pending() < 20 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        taken = sub.take(wait=60)
        assert time.monotonic() - started < 30  # counting messages alone waited the whole 60 s
        assert len(taken) == 20 and taken.size == 20 * 600
        assert sub.ack(taken)
        assert sub.take().size == 0  # the next take starts counting again
    finally:
        sub.close()


def test_a_bounded_take_leaves_the_rest_in_order_for_the_next_one(broker):
    """A worker takes at most a cycle's bytes, so two workers overlap instead of taking turns; what it
    leaves comes in order at the next take, and nothing is taken twice or lost."""
    client_id = f"wire-{uuid.uuid4().hex[:6]}"
    sub = _subscriber(broker, client_id, wake_at=10_000, wake_bytes=100_000)
    try:
        messages = [(bus.device_topic(f"B{i}", broker.prefix), bytes([65 + i]) * 1000) for i in range(10)]
        assert (
            wire.publish(
                "127.0.0.1",
                broker.port,
                "wire-pub-bound",
                messages,
                username="bench-publisher",
                password="pub-pw",
            )
            == 10
        )
        deadline = time.monotonic() + 10
        while sub.pending() < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        first = sub.take(most_bytes=3_500)
        assert len(first) == 3 and first.size == 3_000
        one = sub.take(most_bytes=10)  # smaller than one message: still one, never none
        assert len(one) == 1 and one.size == 1_000
        rest = sub.take(most_bytes=1_000_000)
        assert len(rest) == 6 and rest.size == 6_000 and sub.pending() == 0
        assert first.payloads + one.payloads + rest.payloads == [
            p for _t, p in messages
        ]  # one publisher: in order
        assert sub.ack(first) and sub.ack(one) and sub.ack(rest)
    finally:
        sub.close()


def test_a_waiting_take_returns_once_the_oldest_message_has_waited_the_window(broker):
    """Messages that came while the worker was busy have waited already: the end of a burst is not held
    another whole window (the wait counts from the oldest message's arrival, not from the take)."""
    import threading

    client_id = f"wire-{uuid.uuid4().hex[:6]}"
    sub = _subscriber(broker, client_id, wake_at=10_000, wake_bytes=10_000_000)  # never enough
    try:
        messages = [(bus.device_topic(f"W{i}", broker.prefix), b"1") for i in range(3)]
        wire.publish(
            "127.0.0.1", broker.port, "wire-pub-old", messages, username="bench-publisher", password="pub-pw"
        )
        deadline = time.monotonic() + 10
        while sub.pending() < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        with sub._cond:
            sub._taken.since -= 7200  # they arrived two hours ago (no sleeping in a test)
        got: list[wire.Taken] = []
        taker = threading.Thread(target=lambda: got.append(sub.take(wait=3600)))
        taker.start()
        taker.join(60)
        assert not taker.is_alive(), "the take waited its whole window for messages that had waited already"
        assert len(got[0]) == 3
        assert sub.ack(got[0])
    finally:
        sub.close()
