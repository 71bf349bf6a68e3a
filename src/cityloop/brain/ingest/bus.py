"""Message buses as small synchronous adapters: NATS JetStream and MQTT (Mosquitto).

NATS: stream ``CITYLOOP_READINGS`` on subjects ``cityloop.readings.>``; a message is one batch in any
of the codec's forms, its ``Content-Type`` header says which (compact JSON by default).  The worker
reads through a durable pull consumer that it positions itself, at start-up, just after the stream
sequence of the last checkpoint — the checkpoint, not the consumer's ack floor, is the truth.

MQTT: ``<prefix>/devices/<code>/reading`` carries ``{"t": ts, "v": value}`` (or a bare number, read at
arrival); ``<prefix>/gateways/<id>/batch`` carries a compact batch ``{"d": [...], "t": [...], "v": [...]}``.
The prefix is ``CITYLOOP_MQTT_PREFIX`` (default ``cityloop``).  Workers share the topics through one
shared subscription (``$share/<CITYLOOP_MQTT_GROUP>/...``): each message goes to one of them, and a
worker started or stopped changes the split.  QoS 1 with a persistent session per worker (a plain-socket
client, :mod:`cityloop.brain.ingest.wire`), acknowledged in bulk only after the checkpoint that holds
it; a message delivered twice, or after a newer one of its device, is counted once by the engine (see
:mod:`cityloop.brain.detect.detectors`).  The broker's own drop counter
(``$SYS/broker/publish/messages/dropped``) is followed and shown, so shedding is never silent.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

STREAM = "CITYLOOP_READINGS"
SUBJECTS = "cityloop.readings.>"
DEFAULT_SUBJECT = "cityloop.readings.all"
DURABLE = "cityloop-worker"
DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"


def mqtt_prefix() -> str:
    from cityloop.core import config

    return config.mqtt_prefix()


def device_topic(code: str, prefix: str | None = None) -> str:
    return f"{prefix or mqtt_prefix()}/devices/{code}/reading"


def gateway_topic(gateway: str, prefix: str | None = None) -> str:
    return f"{prefix or mqtt_prefix()}/gateways/{gateway}/batch"


def subscriptions(prefix: str | None = None, group: str | None = None) -> list[str]:
    """The shared-subscription filters every brain worker subscribes to."""
    from cityloop.core import config

    prefix, group = prefix or mqtt_prefix(), group or config.mqtt_group()
    return [f"$share/{group}/{prefix}/devices/+/reading", f"$share/{group}/{prefix}/gateways/+/batch"]


def parse_topic(topic: str, prefix: str | None = None) -> tuple[str, str] | None:
    """``("devices", code)`` or ``("gateways", id)`` for a reading topic under the prefix, else None."""
    head = (prefix or mqtt_prefix()) + "/"
    if not topic.startswith(head):
        return None
    parts = topic[len(head) :].split("/")
    if (
        len(parts) != 3
        or not parts[1]
        or (parts[0], parts[2]) not in (("devices", "reading"), ("gateways", "batch"))
    ):
        return None
    return parts[0], parts[1]


def stream_replicas() -> int:
    """Copies of the readings stream a NATS cluster keeps (CITYLOOP_NATS_REPLICAS; 3 on a 3-node cluster)."""
    from cityloop.core import config

    return int(config.env_number("CITYLOOP_NATS_REPLICAS", 1, low=1, high=5, integer=True))


def nats_url() -> str:
    from cityloop.core import config

    return config.nats_url()


def mqtt_address() -> tuple[str, int]:
    from cityloop.core import config

    return config.mqtt_address()


def nats_options() -> dict:
    """Credentials and TLS for NATS: a .creds file (CITYLOOP_NATS_CREDS), or user:password in the URL;
    TLS with a tls:// URL, checked against CITYLOOP_NATS_CA_FILE when it is set."""
    from cityloop.core import config

    servers = [s.strip() for s in nats_url().split(",") if s.strip()]
    options: dict = {"servers": servers}
    creds = config.env("CITYLOOP_NATS_CREDS")
    if creds:
        if not os.path.isfile(creds):
            raise config.ConfigError(f"CITYLOOP_NATS_CREDS={creds!r} is not a file")
        options["user_credentials"] = creds
    ca_file = config.env("CITYLOOP_NATS_CA_FILE")
    if ca_file or any(s.startswith("tls://") for s in servers):
        import ssl

        options["tls"] = ssl.create_default_context(cafile=ca_file or None)
    return options


def mqtt_security(client) -> None:
    """Username/password (CITYLOOP_MQTT_USERNAME, CITYLOOP_MQTT_PASSWORD or its _FILE) and TLS
    (CITYLOOP_MQTT_TLS=1, optionally CITYLOOP_MQTT_CA_FILE) for a paho client, before it connects."""
    from cityloop.core import config

    username = config.env("CITYLOOP_MQTT_USERNAME")
    if username:
        client.username_pw_set(username, config.env("CITYLOOP_MQTT_PASSWORD"))
    ca_file = config.env("CITYLOOP_MQTT_CA_FILE")
    if config.env_bool("CITYLOOP_MQTT_TLS", False) or ca_file:
        client.tls_set(ca_certs=ca_file or None)


def mqtt_credentials() -> tuple[str | None, str | None, object]:
    """``(username, password, ssl context or None)`` from the same settings as :func:`mqtt_security`."""
    from cityloop.core import config

    username = config.env("CITYLOOP_MQTT_USERNAME") or None
    password = config.env("CITYLOOP_MQTT_PASSWORD") if username else None
    ca_file = config.env("CITYLOOP_MQTT_CA_FILE")
    tls = None
    if config.env_bool("CITYLOOP_MQTT_TLS", False) or ca_file:
        import ssl

        tls = ssl.create_default_context(cafile=ca_file or None)
    return username, password or None, tls


def mqtt_subscriber(client_id: str, *, clean: bool = False, wake_at: int = 50_000):
    """A brain worker's MQTT connection: the shared subscription at QoS 1 with a persistent session,
    acknowledged by hand in bulk, and the broker's drop counter at QoS 0 (see :mod:`.wire`)."""
    from cityloop.brain.ingest import wire

    host, port = mqtt_address()
    username, password, tls = mqtt_credentials()
    return wire.Subscriber(
        client_id,
        host,
        port,
        subscriptions(),
        qos0=[DROPPED_TOPIC],
        username=username,
        password=password,
        tls=tls,  # type: ignore[arg-type]
        clean=clean,
        wake_at=wake_at,
    )


class Nats:
    """A NATS connection driven from synchronous code (its event loop runs in a daemon thread)."""

    def __init__(self, url: str | None = None, *, connect_timeout: float = 2.0):
        import nats

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="nats-io", daemon=True)
        self._thread.start()
        options = nats_options()
        if url:
            options["servers"] = [url]
        self.nc = self._run(
            nats.connect(
                **options, connect_timeout=connect_timeout, max_reconnect_attempts=3, allow_reconnect=True
            ),
            timeout=connect_timeout + 3,
        )
        self.js = self.nc.jetstream()
        self.sub = None

    def _run(self, coro, timeout: float | None = 30):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def ensure_stream(self) -> None:
        from nats.js.api import StreamConfig
        from nats.js.errors import NotFoundError

        try:
            self._run(self.js.stream_info(STREAM))
        except NotFoundError:
            self._run(
                self.js.add_stream(
                    StreamConfig(
                        name=STREAM, subjects=[SUBJECTS], max_age=7 * 86400, num_replicas=stream_replicas()
                    )
                )
            )

    def publish(
        self,
        payload: bytes,
        *,
        subject: str = DEFAULT_SUBJECT,
        content_type: str = "application/json",
        msg_id: str | None = None,
    ) -> int:
        headers = {"Content-Type": content_type}
        if msg_id:
            headers["Nats-Msg-Id"] = msg_id  # JetStream drops a re-sent message within its duplicate window
        return self._run(self.js.publish(subject, payload, headers=headers)).seq

    def publish_many(
        self, payloads: list[bytes], *, subject: str = DEFAULT_SUBJECT, content_type: str = "application/json"
    ) -> None:
        async def go():
            for i in range(0, len(payloads), 500):
                await asyncio.gather(
                    *(
                        self.js.publish(subject, p, headers={"Content-Type": content_type})
                        for p in payloads[i : i + 500]
                    )
                )

        self._run(go(), timeout=300)

    def bind_consumer(self, *, after_seq: int, subject: str | None = None, durable: str = DURABLE) -> None:
        """(Re)create the durable pull consumer so it delivers from ``after_seq + 1``, in order."""
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import NotFoundError

        try:
            self._run(self.js.delete_consumer(STREAM, durable))
        except NotFoundError:
            pass
        config = ConsumerConfig(
            durable_name=durable,
            ack_policy=AckPolicy.EXPLICIT,
            ack_wait=120,
            max_ack_pending=200_000,
            filter_subject=subject or SUBJECTS,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE if after_seq else DeliverPolicy.ALL,
            opt_start_seq=after_seq + 1 if after_seq else None,
        )
        self._run(self.js.add_consumer(STREAM, config=config))
        self.sub = self._run(self.js.pull_subscribe_bind(durable=durable, stream=STREAM))

    def fetch(self, batch: int = 256, timeout: float = 1.0) -> list:
        import nats.errors

        try:
            return self._run(self.sub.fetch(batch, timeout=timeout), timeout=timeout + 10)
        except (nats.errors.TimeoutError, TimeoutError):
            return []

    def ack(self, msgs: list) -> None:
        async def go():
            for m in msgs:
                await m.ack()

        if msgs:
            self._run(go())

    def close(self) -> None:
        try:
            self._run(self.nc.drain(), timeout=5)
        except Exception:  # noqa: BLE001, S110 (closing a connection that is already gone)
            pass
        self.loop.call_soon_threadsafe(self.loop.stop)


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    import socket

    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class Mqtt:
    """A paho-mqtt publisher (the simulator, tests): QoS 1 by default, ``publish`` returns paho's
    message info.  The workers subscribe with :func:`mqtt_subscriber` (a plain-socket client that
    acknowledges in bulk, see :mod:`.wire`)."""

    def __init__(self, client_id: str, *, clean: bool = True):
        import paho.mqtt.client as mqtt

        self._ready = threading.Event()
        self._refused: str | None = None
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311, clean_session=clean
        )
        self.client.max_inflight_messages_set(1000)
        self.client.max_queued_messages_set(0)

        def on_connect(client, userdata, flags, reason, properties):
            if reason.is_failure:
                self._refused = str(reason)
            self._ready.set()

        self.client.on_connect = on_connect
        host, port = mqtt_address()
        mqtt_security(self.client)
        self.client.connect(host, port, keepalive=30)
        self.client.loop_start()
        if not self._ready.wait(10):
            self.client.loop_stop()
            raise ConnectionError(f"MQTT broker at {host}:{port} did not answer")
        if self._refused:
            self.client.loop_stop()
            raise ConnectionError(f"MQTT broker at {host}:{port} refused the connection: {self._refused}")

    def publish(self, topic: str, payload: bytes, qos: int = 1):
        return self.client.publish(topic, payload, qos=qos)

    def close(self) -> None:
        time.sleep(0.05)
        self.client.loop_stop()
        self.client.disconnect()
