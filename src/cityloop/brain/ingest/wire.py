"""MQTT 3.1.1 on a plain socket, for the two ends that carry readings at meter scale.

paho-mqtt spends tens of microseconds of Python per message (a packet object, a message object, a
callback, a PUBACK queued one by one); a brain worker and a benchmark publisher on two cores cannot
afford that at tens of thousands of messages a second.  This module speaks just what they need:

* :class:`Subscriber` — CONNECT with a persistent session, SUBSCRIBE, then a reader thread that cuts
  whole PUBLISH packets out of large reads into three lists (topics, payloads, packet ids).  The worker
  takes them in bulk and acknowledges in bulk (one ``sendall`` of every PUBACK), only after the
  checkpoint that holds them.  After a lost connection it connects again with the same client id: the
  broker sends every unacknowledged message again, so what was taken but not yet acknowledged on the
  old connection is never acknowledged on the new one (its packet ids would name other messages).
* :func:`publish` — QoS 1 PUBLISH packets, each one reading, with a window of unacknowledged ones;
  returns how many the broker acknowledged (each packet id checked off once).

Only MQTT 3.1.1 (the workers and devices use it); TLS through :mod:`ssl`.
"""

from __future__ import annotations

import logging
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger("cityloop.brain.ingest.wire")

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP, DISCONNECT = (
    1,
    2,
    3,
    4,
    8,
    9,
    12,
    13,
    14,
)
CONNACK_REASONS = {
    1: "unacceptable protocol version",
    2: "identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class MqttError(ConnectionError):
    pass


def _string(s: str | bytes) -> bytes:
    b = s.encode() if isinstance(s, str) else s
    return struct.pack(">H", len(b)) + b


def _length(n: int) -> bytes:
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + _length(len(body)) + body


def connect_packet(
    client_id: str, *, clean: bool, keepalive: int, username: str | None = None, password: str | None = None
) -> bytes:
    flags = 0x02 if clean else 0
    payload = _string(client_id)
    if username is not None:
        flags |= 0x80
        payload += _string(username)
        if password is not None:
            flags |= 0x40
            payload += _string(password)
    return packet(CONNECT, 0, _string("MQTT") + bytes([4, flags]) + struct.pack(">H", keepalive) + payload)


def publish_packet(topic: str | bytes, payload: bytes, mid: int) -> bytes:
    """A QoS 1 PUBLISH."""
    t = topic.encode() if isinstance(topic, str) else topic
    body = struct.pack(">H", len(t)) + t + struct.pack(">H", mid) + payload
    return bytes([PUBLISH << 4 | 0x02]) + _length(len(body)) + body


def pubacks(mids: Iterable[int]) -> bytes:
    mids = list(mids)
    return struct.pack(">" + "HH" * len(mids), *[x for m in mids for x in (0x4002, m)])


def _varint(data: bytes, j: int) -> tuple[int, int] | None:
    """The remaining length starting at ``data[j]`` and the offset after it; None if incomplete."""
    length = mult = 0
    n = len(data)
    while j < n:
        b = data[j]
        length |= (b & 0x7F) << mult
        j += 1
        if not b & 0x80:
            return length, j
        mult += 7
        if mult > 21:
            raise MqttError("malformed remaining length")
    return None


def split(data: bytes) -> tuple[list[tuple[int, int, int]], int]:
    """The complete packets of ``data`` as ``(first byte, body start, body end)``, and the offset of
    the first incomplete one."""
    out = []
    i, n = 0, len(data)
    while i + 2 <= n:
        got = _varint(data, i + 1)
        if got is None or got[1] + got[0] > n:
            break
        end = got[1] + got[0]
        out.append((data[i], got[1], end))
        i = end
    return out, i


@dataclass
class Taken:
    """Messages taken from a :class:`Subscriber`: acknowledge them with :meth:`Subscriber.ack`."""

    topics: list[bytes] = field(default_factory=list)
    payloads: list[bytes] = field(default_factory=list)
    mids: list[int] = field(default_factory=list)  # 0 for a QoS 0 message
    connection: int = 0
    size: int = 0  # bytes of the payloads
    since: float = 0.0  # time.monotonic() when the oldest of them arrived

    def __len__(self) -> int:
        return len(self.topics)


def _open(host: str, port: int, tls: ssl.SSLContext | None, timeout: float) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if tls is not None:
        sock = tls.wrap_socket(sock, server_hostname=host)
    return sock


def _handshake(sock: socket.socket, connect: bytes, where: str) -> bytes:
    """Send CONNECT, read CONNACK; returns whatever arrived after it."""
    sock.sendall(connect)
    buf = b""
    while len(buf) < 4:
        chunk = sock.recv(65536)
        if not chunk:
            raise MqttError(f"MQTT broker at {where} closed the connection before CONNACK")
        buf += chunk
    if buf[0] >> 4 != CONNACK:
        raise MqttError(f"MQTT broker at {where} answered CONNECT with packet type {buf[0] >> 4}")
    if buf[3]:
        raise MqttError(
            f"MQTT broker at {where} refused the connection: {CONNACK_REASONS.get(buf[3], buf[3])}"
        )
    return buf[4:]


class Subscriber:
    """A persistent-session subscriber whose QoS 1 messages are acknowledged by hand, in bulk.

    ``filters`` are subscribed at QoS 1, ``qos0`` filters at QoS 0 (the broker's $SYS counters).
    Ready once the broker granted every subscription (a message published before a shared
    subscription's first subscriber has no session to wait in)."""

    def __init__(
        self,
        client_id: str,
        host: str,
        port: int,
        filters: list[str],
        *,
        qos0: Iterable[str] = (),
        username: str | None = None,
        password: str | None = None,
        tls: ssl.SSLContext | None = None,
        keepalive: int = 30,
        clean: bool = False,
        wake_at: int = 50_000,
        wake_bytes: int = 2_000_000,
    ):
        self.client_id, self.host, self.port, self.tls = client_id, host, port, tls
        self.where = f"{host}:{port}"
        self.keepalive = keepalive
        self._connect = connect_packet(
            client_id, clean=clean, keepalive=keepalive, username=username, password=password
        )
        subs = b"".join(_string(f) + b"\x01" for f in filters) + b"".join(_string(f) + b"\x00" for f in qos0)
        self._subscribe = packet(SUBSCRIBE, 2, struct.pack(">H", 1) + subs)
        self._n_filters = len(filters) + len(list(qos0))
        # A waiting take() returns once this many messages or payload bytes are in: a gateway's message
        # holds hundreds of readings, so 2,000 of them (2 MB) are as much work as 50,000 single ones, and
        # counting messages alone kept a worker waiting its whole window while they piled up.
        self.wake_at, self.wake_bytes = wake_at, wake_bytes
        self._cond = threading.Condition()
        self._taken = Taken()
        self._send_lock = threading.Lock()
        self._last_send = time.monotonic()
        self._closing = False
        self.connection = 0
        self.reconnects = 0
        self.error: str | None = None
        self._ready = threading.Event()
        self._sock = self._connect_once()  # the first connection's failures are the caller's
        self._thread = threading.Thread(target=self._run, name=f"mqtt-{client_id}", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            self.close()
            raise MqttError(f"MQTT broker at {self.where} did not answer SUBSCRIBE: {self.error or ''}")
        if self.error:
            self.close()
            raise MqttError(self.error)

    # -- connection ------------------------------------------------------------------------------
    def _connect_once(self) -> socket.socket:
        sock = _open(self.host, self.port, self.tls, timeout=10)
        try:
            rest = _handshake(sock, self._connect, self.where)
            sock.sendall(self._subscribe)
        except BaseException:
            sock.close()
            raise
        self._pending = bytearray(rest)
        self._last_send = time.monotonic()
        sock.settimeout(min(1.0, self.keepalive / 4))
        return sock

    def _run(self) -> None:
        backoff = 0.5
        while not self._closing:
            try:
                self._serve(self._sock)
            except Exception as exc:  # noqa: BLE001 - whatever broke the stream, start it again
                if self._closing:
                    return
                self.error = f"MQTT connection to {self.where} lost: {exc!r}"
                log.warning("%s; connecting again", self.error)
                try:
                    self._sock.close()
                except OSError:
                    pass
            if self._closing:
                return
            with self._cond:
                # Whatever was not yet acknowledged comes again on the new connection.
                self.connection += 1
                self._taken = Taken(connection=self.connection)
            while not self._closing:
                time.sleep(backoff)
                try:
                    self._sock = self._connect_once()
                    self.reconnects += 1
                    backoff = 0.5
                    break
                except (OSError, MqttError) as exc:
                    self.error = str(exc)
                    backoff = min(backoff * 2, 10.0)

    def _serve(self, sock: socket.socket) -> None:
        buf = self._pending
        ping_every = self.keepalive / 2
        while not self._closing:
            try:
                chunk = sock.recv(1 << 20)
            except TimeoutError:
                chunk = None
            except ssl.SSLWantReadError:
                chunk = None
            if chunk is not None:
                if not chunk:
                    raise MqttError("closed by the broker")
                buf += chunk
            if buf:
                consumed = self._dispatch(buf)
                del buf[:consumed]
            if time.monotonic() - self._last_send > ping_every:
                self._send(bytes([PINGREQ << 4, 0]))

    def _dispatch(self, buf: bytearray) -> int:
        """Cut the complete packets out of ``buf``; returns how many bytes they took."""
        data = bytes(buf)
        topics: list[bytes] = []
        payloads: list[bytes] = []
        mids: list[int] = []
        i, n = 0, len(data)
        while i + 2 <= n:
            first, b = data[i], data[i + 1]
            if b < 0x80:  # a remaining length of one byte: every single reading
                j, end = i + 2, i + 2 + b
            else:
                got = _varint(data, i + 1)
                if got is None:
                    break
                j, end = got[1], got[1] + got[0]
            if end > n:
                break
            i = end
            kind = first >> 4
            if kind == PUBLISH:
                t_end = j + 2 + (data[j] << 8 | data[j + 1])
                topics.append(data[j + 2 : t_end])
                if first & 0x06:  # QoS 1 (or 2, which nobody is granted)
                    mids.append(data[t_end] << 8 | data[t_end + 1])
                    payloads.append(data[t_end + 2 : end])
                else:
                    mids.append(0)
                    payloads.append(data[t_end:end])
            elif kind == SUBACK:
                codes = data[j + 2 : end]
                if any(c & 0x80 for c in codes) or len(codes) != self._n_filters:
                    self.error = f"MQTT broker at {self.where} refused a subscription of {self.client_id}"
                self._ready.set()
            elif kind not in (PINGRESP, PUBACK):
                raise MqttError(f"unexpected packet type {kind}")
        if topics:
            size = sum(map(len, payloads))
            with self._cond:
                t = self._taken
                if not t.topics:
                    t.since = time.monotonic()
                t.topics += topics
                t.payloads += payloads
                t.mids += mids
                t.size += size
                if self._enough(t):
                    self._cond.notify_all()
        return i

    def _send(self, data: bytes) -> None:
        with self._send_lock:
            self._sock.sendall(data)
            self._last_send = time.monotonic()

    # -- the worker's side -------------------------------------------------------------------------
    def _enough(self, t: Taken) -> bool:
        return len(t) >= self.wake_at or t.size >= self.wake_bytes

    def take(self, wait: float = 0.0, *, most_bytes: int | None = None) -> Taken:
        """What was received so far (waiting up to ``wait`` s for ``wake_at`` messages or
        ``wake_bytes`` bytes of payload): all of it, or with ``most_bytes`` the oldest messages up to
        that many payload bytes (at least one); the rest stays for the next take, in order."""
        with self._cond:
            if wait:
                # Messages that came while the worker was busy have waited already: a cycle's wait ends
                # ``wait`` s after the oldest arrived (the end of a burst is not held a whole window).
                deadline = time.monotonic() + wait
                while not self._enough(self._taken):
                    if len(self._taken):
                        deadline = min(deadline, self._taken.since + wait)
                    left = deadline - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
            out = self._taken
            if most_bytes is not None and out.size > most_bytes:
                sizes = np.cumsum([len(p) for p in out.payloads])
                k = max(1, int(np.searchsorted(sizes, most_bytes, "right")))
                head = int(sizes[k - 1])
                rest = Taken(
                    out.topics[k:], out.payloads[k:], out.mids[k:], out.connection, out.size - head, out.since
                )
                out = Taken(out.topics[:k], out.payloads[:k], out.mids[:k], out.connection, head, out.since)
                self._taken = rest
            else:
                self._taken = Taken(connection=self.connection)
        return out

    def pending(self) -> int:
        with self._cond:
            return len(self._taken)

    def ack(self, taken: Taken) -> bool:
        """PUBACK every QoS 1 message of ``taken``; False (nothing sent) when it came on an earlier
        connection, whose messages the broker sends again."""
        mids = [m for m in taken.mids if m]
        if not mids:
            return True
        with self._cond:
            if taken.connection != self.connection:
                return False
        try:
            self._send(pubacks(mids))
        except OSError:
            return False  # the reader thread reconnects; the broker sends them again
        return True

    def close(self) -> None:
        self._closing = True
        try:
            self._send(bytes([DISCONNECT << 4, 0]))
        except OSError:
            pass
        try:
            self._sock.close()
        except OSError:
            pass
        if getattr(self, "_thread", None) is not None and self._thread is not threading.current_thread():
            self._thread.join(5)


def _pubacks_in(buf: bytearray, in_flight: np.ndarray) -> tuple[int, int]:
    """Check off the PUBACKs at the start of ``buf`` (four bytes each, all a broker sends a publisher)
    for packet ids in flight; returns (how many, bytes used)."""
    k = len(buf) // 4
    words = np.frombuffer(bytes(buf[: 4 * k]), dtype=">u4")
    if k and not (words >> 16 == 0x4002).all():  # something else came: packet by packet
        packets, offset = split(bytes(buf))
        acked = 0
        for first, j, _end in packets:
            if first >> 4 == PUBACK:
                mid = buf[j] << 8 | buf[j + 1]
                if in_flight[mid]:
                    in_flight[mid] = False
                    acked += 1
        return acked, offset
    mids = (words & 0xFFFF).astype(np.int64)
    mids = np.unique(mids)  # a PUBACK counts once, also if the broker sent one twice
    fresh = mids[in_flight[mids]]
    in_flight[fresh] = False
    return len(fresh), 4 * k


def publish(
    host: str,
    port: int,
    client_id: str,
    messages: list[tuple[str, bytes]],
    *,
    username: str | None = None,
    password: str | None = None,
    tls: ssl.SSLContext | None = None,
    window: int = 2000,
    timeout: float = 600.0,
) -> int:
    """Publish every ``(topic, payload)`` as one QoS 1 PUBLISH with at most ``window`` unacknowledged;
    returns how many the broker acknowledged (a PUBACK for a packet id in flight, counted once)."""
    window = max(1, min(window, 60_000))
    where = f"{host}:{port}"
    sock = _open(host, port, tls, timeout=10)
    try:
        rest = bytearray(
            _handshake(
                sock,
                connect_packet(client_id, clean=True, keepalive=60, username=username, password=password),
                where,
            )
        )
        sock.settimeout(timeout)
        in_flight = np.zeros(65536, dtype=bool)
        n, sent, acked, flying = len(messages), 0, 0, 0
        buf = rest
        while acked < n:
            if sent < n and flying <= window // 2:
                k = min(n - sent, window - flying)
                out = []
                for i in range(sent, sent + k):
                    mid = i % 65535 + 1
                    topic, payload = messages[i]
                    out.append(publish_packet(topic, payload, mid))
                mids = np.arange(sent, sent + k) % 65535 + 1
                if in_flight[mids].any():
                    raise MqttError("a packet id is still in flight")
                in_flight[mids] = True
                sock.sendall(b"".join(out))
                sent += k
                flying += k
            chunk = sock.recv(1 << 16)
            if not chunk:
                raise MqttError(f"MQTT broker at {where} closed the connection")
            buf += chunk
            acked_now, offset = _pubacks_in(buf, in_flight)
            acked += acked_now
            flying -= acked_now
            del buf[:offset]
        sock.sendall(bytes([DISCONNECT << 4, 0]))
    finally:
        sock.close()
    return acked
