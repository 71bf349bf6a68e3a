"""The brain worker: consume readings (NATS JetStream, MQTT, or the in-process simulator), checkpoint,
then acknowledge; periodically check silent devices and verify waiting cases.

Nothing is acknowledged before the checkpoint that contains it is committed, and on start-up NATS
delivery resumes right after the checkpointed stream sequence, so a worker killed at any moment and
restarted loses nothing and counts nothing twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa

from cityloop.brain import actions
from cityloop.brain import engine as engines
from cityloop.brain.ingest import access, bus, wire
from cityloop.brain.ingest.codec import Batch, CodecError, decode_columns
from cityloop.brain.ingest.pipeline import ingest_batch

log = logging.getLogger("cityloop.brain.worker")


@dataclass
class Stats:
    messages: int = 0
    readings: int = 0
    rejects: int = 0
    skipped: int = 0
    checkpoints: int = 0
    alarms: int = 0

    def line(self) -> str:
        return (
            f"messages={self.messages} readings={self.readings} rejects={self.rejects} "
            f"skipped={self.skipped} alarms={self.alarms} checkpoints={self.checkpoints}"
        )


def unreadable(message: str) -> Batch:
    return Batch(np.array([], dtype=object), [], [], errors=[(0, "body", message)])


def decode_message(data: bytes, content_type: str | None) -> Batch:
    try:
        return actions.decode_payload(data, content_type or "application/json")
    except CodecError as exc:
        return unreadable(str(exc))


def _ingest(engine, batch: Batch, source: str, stats: Stats) -> None:
    report = ingest_batch(batch, engine=engine, source=source)
    stats.readings += report.accepted
    stats.rejects += report.rejected_total
    stats.alarms += report.alarms


class Loop:
    """Shared pacing: stop flag, idle exit, maintenance period."""

    def __init__(self, *, stop: Callable[[], bool] | None, idle_exit: float | None, maintenance_every: float):
        self.stop = stop or (lambda: False)
        self.idle_exit = idle_exit
        self.maintenance_every = maintenance_every
        self.last_work = time.monotonic()
        self.last_maintenance = time.monotonic()

    def worked(self) -> None:
        self.last_work = time.monotonic()

    def done(self) -> bool:
        if self.stop():
            return True
        return self.idle_exit is not None and time.monotonic() - self.last_work > self.idle_exit

    def maintain(self) -> None:
        if self.maintenance_every and time.monotonic() - self.last_maintenance > self.maintenance_every:
            self.last_maintenance = time.monotonic()
            # The other scheduled work (and this maintenance, when no worker runs) is the scheduler's.
            actions.run_maintenance()


def run_nats(
    *,
    subject: str | None = None,
    durable: str = bus.DURABLE,
    fetch_batch: int = 256,
    checkpoint_every: float = 1.0,
    idle_exit: float | None = None,
    maintenance_every: float = 30.0,
    stop: Callable[[], bool] | None = None,
) -> Stats:
    stats, pace = Stats(), Loop(stop=stop, idle_exit=idle_exit, maintenance_every=maintenance_every)
    nats = bus.Nats()
    try:
        nats.ensure_stream()
        with engines.session() as engine:
            start = engine.stream_seq
        nats.bind_consumer(after_seq=start, subject=subject, durable=durable)
        log.info("worker: NATS %s from stream sequence %d", subject or bus.SUBJECTS, start + 1)
        while not pace.done():
            msgs = nats.fetch(fetch_batch, timeout=0.5)
            if not msgs:
                pace.maintain()
                continue
            held = []
            with engines.session() as engine:
                deadline = time.monotonic() + checkpoint_every
                last = engine.stream_seq
                while msgs:
                    for m in msgs:
                        seq = m.metadata.sequence.stream
                        held.append(m)
                        if seq <= last:  # already in the checkpoint (a redelivery)
                            stats.skipped += 1
                            continue
                        headers = m.headers or {}
                        _ingest(
                            engine,
                            bound_to_subject(m.subject, decode_message(m.data, headers.get("Content-Type"))),
                            "nats",
                            stats,
                        )
                        stats.messages += 1
                        last = seq
                    if time.monotonic() >= deadline:
                        break
                    msgs = nats.fetch(fetch_batch, timeout=0.05)
                actions.commit(engine, stream_seq=last)
                stats.checkpoints += 1
            nats.ack(held)
            pace.worked()
            pace.maintain()
    finally:
        nats.close()
    return stats


def bound_to_subject(subject: str, batch: Batch) -> Batch:
    """On ``cityloop.readings.gw.<G>``, readings of devices that are not G's become ``not_bound`` rejects."""
    prefix = bus.SUBJECTS[:-1] + "gw."
    if not subject.startswith(prefix) or not len(batch.device):
        return batch
    gateway = subject[len(prefix) :]
    refused = set(access.foreign(gateway, set(batch.device.tolist())))
    if not refused:
        return batch
    keep = np.array([code not in refused for code in batch.device.tolist()])
    errors = list(batch.errors) + [
        (int(i), "not_bound", f"device {batch.device[i]} is not a device of gateway {gateway}")
        for i in np.flatnonzero(~keep)
    ]
    return Batch(batch.device[keep], np.asarray(batch.ts)[keep], np.asarray(batch.value)[keep], errors=errors)


def _mqtt_batch(taken: wire.Taken, prefix: str | None = None) -> tuple[list[Batch], int, int | None]:
    """The readable readings of the taken messages as one batch (the single readings, then every gateway
    batch as decoded, minus rows of another gateway's devices), plus one batch of the unreadable and
    refused; also how many reading messages there were and the broker's drop counter if it came."""
    head = ((prefix or bus.mqtt_prefix()) + "/").encode()
    dev_head, gw_head, dropped_topic = head + b"devices/", head + b"gateways/", bus.DROPPED_TOPIC.encode()
    dev_n, gw_n = len(dev_head), len(gw_head)
    codes: list[bytes] = []
    bodies: list[bytes] = []
    gateways: list[tuple[bytes, bytes]] = []
    errors: list[str] = []
    refused_rows: list[str] = []
    dropped: int | None = None
    for topic, payload in zip(taken.topics, taken.payloads, strict=True):
        if topic.startswith(dev_head) and topic.endswith(b"/reading"):
            code = topic[dev_n:-8]
            if code and b"/" not in code:
                codes.append(code)
                bodies.append(payload)
                continue
        elif topic.startswith(gw_head) and topic.endswith(b"/batch"):
            if topic[gw_n:-6] and b"/" not in topic[gw_n:-6]:
                gateways.append((topic, payload))
                continue
        elif topic == dropped_topic:
            try:
                dropped = int(payload)
            except ValueError:
                pass
            continue
        errors.append(f"{topic.decode(errors='replace')}: not a reading topic")
    n_messages = len(codes) + len(gateways)
    parts: list[Batch] = []
    if codes:
        single, single_errors = _singles(codes, bodies, dev_head)
        errors += single_errors
        if single is not None:
            parts.append(single)
    if gateways:
        gateway_batch, gateway_errors, refused_rows = _gateway_batches(gateways, gw_n)
        errors += gateway_errors
        if gateway_batch is not None:
            parts.append(gateway_batch)
    out = []
    if len(parts) == 1:
        out.append(parts[0])
    elif parts:
        out.append(_concat(parts))
    if errors or refused_rows:
        out.append(
            Batch(
                np.array([], dtype=object),
                [],
                [],
                errors=[(i, "payload", e) for i, e in enumerate(errors)]
                + [(i, "not_bound", e) for i, e in enumerate(refused_rows)],
            )
        )
    return out, n_messages, dropped


def _gateway_batches(gateways: list[tuple[bytes, bytes]], gw_n: int) -> tuple[Batch | None, list, list]:
    """Every gateway batch of a cycle as one batch, minus rows of another gateway's devices; the
    unreadable rows and the refused ones, named by topic and row.  The columnar JSON of all of them is
    read in one codec pass; when a row is unreadable, message by message (for the row numbers)."""
    names = [topic.decode(errors="replace") for topic, _p in gateways]
    d: list = []
    t: list = []
    v: list = []
    counts: list[int] = []
    whole = True
    for _topic, payload in gateways:
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            whole = False
            break
        if not isinstance(obj, dict):
            whole = False
            break
        dd, tt, vv = obj.get("d"), obj.get("t"), obj.get("v")
        if not (type(dd) is list and type(tt) is list and type(vv) is list and len(dd) == len(tt) == len(vv)):
            whole = False
            break
        d += dd
        t += tt
        v += vv
        counts.append(len(dd))
    errors: list[str] = []
    pieces: list[Batch] = []
    if whole:
        joined = decode_columns(d, t, v)
        if joined.errors or len(joined) != len(d):
            whole = False
        else:
            pieces = [joined]
    if not whole:
        counts = []
        for name, (_topic, payload) in zip(names, gateways, strict=True):
            got = decode_message(payload, "application/json")
            errors += [f"{name}: row {r}: {f}: {why}" for r, f, why in got.errors]
            pieces.append(got)
            counts.append(len(got))
        if not any(counts):
            return None, errors, []
    batch = pieces[0] if len(pieces) == 1 else _concat(pieces)
    codes = batch.device_arrow()
    refused = access.foreign_rows([name[gw_n:-6] for name in names], counts, codes)
    refused_rows: list[str] = []
    if refused.any():  # a gateway publishing another gateway's device
        starts = np.cumsum([0, *counts])
        for r in np.flatnonzero(refused).tolist():
            k = int(np.searchsorted(starts, r, side="right")) - 1
            refused_rows.append(
                f"{names[k]}: row {r - int(starts[k])}: device {codes[r].as_py()} is not a device of gateway "
                f"{names[k][gw_n:-6]}"
            )
        keep = ~refused
        batch = Batch(None, batch.ts[keep], batch.value[keep], arrow=codes.filter(pa.array(keep)))
    elif batch.errors:
        batch = Batch(None, batch.ts, batch.value, arrow=codes)
    return (batch if len(batch) else None), errors, refused_rows


def _concat(parts: list[Batch]) -> Batch:
    return Batch(
        None,
        np.concatenate([p.ts for p in parts]),
        np.concatenate([p.value for p in parts]),
        arrow=pa.concat_arrays([p.device_arrow() for p in parts]),
    )


def _singles(codes: list[bytes], bodies: list[bytes], head: bytes) -> tuple[Batch | None, list[str]]:
    """Single readings ``{"t": ts, "v": value}`` (or a bare number, read at arrival), many at once."""
    now = int(time.time())
    try:
        docs = list(map(orjson.loads, bodies))
    except orjson.JSONDecodeError:
        docs = []
        for body in bodies:
            try:
                docs.append(orjson.loads(body))
            except orjson.JSONDecodeError:
                docs.append(_NOT_JSON)
    d: list[str] = []
    t: list = []
    v: list = []
    topics: list[bytes] = []
    errors: list[str] = []
    for code, doc in zip(codes, docs, strict=True):
        if type(doc) is dict:
            d.append(code.decode(errors="replace"))
            t.append(doc.get("t", now))
            v.append(doc.get("v"))
            topics.append(code)
        elif isinstance(doc, (int, float)) and not isinstance(doc, bool):
            d.append(code.decode(errors="replace"))
            t.append(now)
            v.append(doc)
            topics.append(code)
        else:
            topic = (head + code + b"/reading").decode(errors="replace")
            why = "payload is not JSON" if doc is _NOT_JSON else _SINGLE_FORM
            errors.append(f"{topic}: {why}")
    if not d:
        return None, errors
    single = decode_columns(d, t, v)  # the codec's checks of t and v
    for r, f, why in single.errors:
        errors.append(f"{(head + topics[r] + b'/reading').decode(errors='replace')}: {f}: {why}")
    return Batch(None, single.ts, single.value, arrow=single.device_arrow()), errors


_NOT_JSON = object()
_SINGLE_FORM = 'payload must be {"t": ts, "v": value} or a number'


# At most this much payload per cycle (the rest waits for the next): a worker that took everything it
# was sent held the engine for seconds while the other decoded and then waited, so the two took turns
# instead of overlapping (bench/bench_mqtt.py, gateway batches of 34 KB: 8 MB is ~235,000 readings).
CYCLE_BYTES = 8_000_000


def run_mqtt(
    *,
    client_id: str = "cityloop-worker",
    checkpoint_every: float = 0.5,
    idle_exit: float | None = None,
    maintenance_every: float = 30.0,
    stop: Callable[[], bool] | None = None,
) -> Stats:
    """Take what the broker sent (up to ``checkpoint_every`` s, or sooner when many are waiting), ingest
    it in one engine session, checkpoint, and only then acknowledge all of it with one write."""
    stats, pace = Stats(), Loop(stop=stop, idle_exit=idle_exit, maintenance_every=maintenance_every)
    # Load the state, the device registry and the gateways' devices before the first message: the
    # first cycle would otherwise hold the broker's messages (and the other workers) for seconds.
    with engines.session():
        pass
    access.foreign_rows([], [], pa.array([], pa.string()))
    mqtt = bus.mqtt_subscriber(client_id)
    log.info("worker: MQTT subscribed to %s as %s", " and ".join(bus.subscriptions()), client_id)
    prefix = bus.mqtt_prefix()
    dropped_seen: int | None = None
    try:
        while not pace.done():
            taken = mqtt.take(wait=checkpoint_every, most_bytes=CYCLE_BYTES)
            if not len(taken):
                pace.maintain()
                continue
            batches, n_messages, dropped = _mqtt_batch(taken, prefix)  # outside the lock
            if dropped is not None and dropped != dropped_seen:
                if dropped_seen is not None and dropped > dropped_seen:
                    log.warning(
                        "worker: the MQTT broker dropped %d message(s) (%d since it started): "
                        "raise max_queued_messages or add workers",
                        dropped - dropped_seen,
                        dropped,
                    )
                dropped_seen = dropped
                actions.note_broker_dropped(dropped_seen, worker=client_id)
            if batches:
                with engines.session() as engine:
                    for batch in batches:
                        _ingest(engine, batch, "mqtt", stats)
                    actions.commit(engine)
                    stats.checkpoints += 1
            stats.messages += n_messages
            # QoS 1: acknowledged only now, so a crash before the commit has the broker send them again.
            if not mqtt.ack(taken):
                log.warning(
                    "worker: the MQTT connection was lost before %d message(s) were acknowledged; the "
                    "broker sends them again and the engine counts each reading once",
                    len(taken),
                )
            pace.worked()
            pace.maintain()
    finally:
        mqtt.close()
    return stats


def run_inproc(
    simulator,
    *,
    rate: float = 1.0,
    duration: float | None = None,
    checkpoint_every: float = 2.0,
    maintenance_every: float = 30.0,
    stop: Callable[[], bool] | None = None,
) -> Stats:
    """The simulator feeding the ingest core directly (``make demo``); ``rate`` = simulated s per real s."""
    stats = Stats()
    pace = Loop(stop=stop, idle_exit=None, maintenance_every=maintenance_every)
    started = time.monotonic()
    while not pace.done() and (duration is None or time.monotonic() - started < duration):
        time.sleep(checkpoint_every)
        # never ahead of the wall clock: readings from the future are rejected
        batch = simulator.until(min(simulator.clock + checkpoint_every * rate, time.time()))
        with engines.session() as engine:
            _ingest(engine, batch, "simulator", stats)
            actions.commit(engine)
            stats.checkpoints += 1
        stats.messages += 1
        pace.maintain()
    return stats
