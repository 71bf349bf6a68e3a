"""Readings: decode an upload, ingest it, commit the engine's checkpoint, verify waiting cases.

Readings change state only through :func:`ingest.ingest_batch` inside an engine session, and reach
the database only when :func:`commit` checkpoints the engine; these functions are the entry points
the adapters (HTTP, MQTT, NATS, simulator, worker) call.
"""

from __future__ import annotations

import math
import time

from cityloop.brain import engine as engines
from cityloop.brain.actions import alarms
from cityloop.brain.detect.detectors import AlarmType
from cityloop.brain.ingest.codec import Batch, CodecError, decode_arrow, decode_csv, decode_json
from cityloop.brain.ingest.pipeline import IngestReport, check_silent, ingest_batch

CONTENT_TYPES = {
    "application/json": decode_json,
    "application/x-ndjson": decode_json,
    "application/jsonl": decode_json,
    "application/jsonlines": decode_json,
    "text/csv": decode_csv,
    "application/vnd.apache.arrow.stream": decode_arrow,
    "application/vnd.apache.arrow.file": decode_arrow,
}


def decode_payload(body: bytes, content_type: str) -> Batch:
    """A batch from an upload body; the Content-Type says which of the three forms it is."""
    media = (content_type or "").split(";")[0].strip().lower()
    decoder = CONTENT_TYPES.get(media)
    if decoder is None:
        raise CodecError(
            f"Content-Type: {media or 'missing'} is not accepted; use one of "
            f"{', '.join(sorted(CONTENT_TYPES))}"
        )
    if not body:
        raise CodecError("body: empty; send at least one reading")
    return decoder(body)


def verify_cases(engine: engines.Engine) -> dict:
    """The closed loop's verification pass against the engine's current readings."""

    def latest(idx: int) -> float | None:
        if idx >= len(engine.latest_ts):
            return None
        value = float(engine.latest_ts[idx])
        return None if math.isnan(value) else value

    def active(idx: int, alarm_type: str) -> bool:
        return bool(engine.bank.active([idx], AlarmType[alarm_type.upper()])[0])

    return alarms.verify(latest, active)


def commit(engine: engines.Engine, *, stream_seq: int | None = None) -> int:
    """Checkpoint what the engine processed: archive, detector state, pulse, tallies and the alarms
    (with the cases they open or reopen) in one database transaction. Returns the generation."""
    return engine.checkpoint(record_alarms=alarms.record_alarms, stream_seq=stream_seq)


def upload_readings(batch: Batch, *, source: str, now: float | None = None) -> IngestReport:
    """Process a batch at once and commit it (the HTTP path; safe beside a running worker)."""
    with engines.session() as engine:
        report = ingest_batch(batch, engine=engine, source=source, now=now)
        commit(engine)
        verify_cases(engine)
    return report


def run_maintenance(*, now: float | None = None) -> dict:
    """Silent devices, then verification of waiting cases (the worker calls this periodically)."""
    now = time.time() if now is None else now
    with engines.session() as engine:
        silent = check_silent(engine, now)
        if silent or len(engine.buffer):
            commit(engine)
        changed = verify_cases(engine)
    return {"silent": silent, **changed}


def compact_archive(*, now: float | None = None, settle_s: float = 3600) -> str:
    """Merge the part files of every archive hour that ended at least ``settle_s`` ago into one (the
    scheduler's hourly ``brain.compact_archive``); inside the engine's session, which owns the files."""
    from cityloop.brain.archive import compaction

    now = time.time() if now is None else now
    with engines.session() as engine:
        done = compaction.compact(
            engine.root, engine.state_dir, engine.generation, before_us=int((now - settle_s) * 1_000_000)
        )
    return done.line()


def note_broker_dropped(count: int, *, worker: str) -> None:
    """Keep the MQTT broker's own count of messages it dropped since it started ($SYS), as a worker last
    read it, for the pulse page and /metrics (``brain.queries.mqtt_broker_dropped``)."""
    import json
    import os

    path = engines.brain_root() / "state" / "mqtt.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"mqtt.json.{os.getpid()}.tmp")
    tmp.write_text(
        json.dumps({"dropped": int(count), "seen_at": time.time(), "worker": worker}), encoding="utf-8"
    )
    os.replace(tmp, path)
