"""The one ingest core every path uses (HTTP upload, MQTT, NATS, the in-process simulator).

``ingest_batch`` maps device codes to state rows, runs the detector bank once over the whole batch,
buffers accepted readings for the archive, counts and keeps every rejected reading with its reason,
folds the readings into the hourly pulse and queues the alarms for the closed loop.  Nothing reaches
the database or the archive until the engine's next checkpoint (see :mod:`cityloop.brain.engine`).
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from cityloop.brain.archive.rollup import hourly_rollup
from cityloop.brain.detect.detectors import Alarms, AlarmType, RejectReason
from cityloop.brain.engine import Engine
from cityloop.brain.ingest.codec import Batch
from cityloop.brain.rules import AlarmEvent

UNREADABLE = "unreadable"  # a row the codec could not read at all (no device, no timestamp)
NOT_BOUND = "not_bound"  # a device of another gateway than the one that sent it


@dataclass
class IngestReport:
    received: int = 0
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    alarms: int = 0
    errors: list[str] = field(default_factory=list)  # the first few unreadable rows, "row N: field: reason"

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    def add(self, other: IngestReport) -> None:
        self.received += other.received
        self.accepted += other.accepted
        self.alarms += other.alarms
        for k, v in other.rejected.items():
            self.rejected[k] = self.rejected.get(k, 0) + v
        self.errors = (self.errors + other.errors)[:20]

    def as_dict(self) -> dict:
        return {
            "received": self.received,
            "accepted": self.accepted,
            "rejected": self.rejected_total,
            "rejected_by_reason": dict(sorted(self.rejected.items())),
            "alarms": self.alarms,
            "errors": self.errors,
        }


_REASON_NAMES = {int(r): r.name.lower() for r in RejectReason}


def _reason_counts(codes: np.ndarray) -> tuple[list[str], dict[str, int]]:
    """Each code's reason name and the count of each name: a redelivered backlog is rejected row by row,
    and an Enum call per row cost it more than the rest of its ingest."""
    kinds, counts = np.unique(codes, return_counts=True)
    names = np.empty(len(codes), dtype=object)
    for k in kinds.tolist():
        names[codes == k] = _REASON_NAMES[k]
    return names.tolist(), {
        _REASON_NAMES[k]: int(c) for k, c in zip(kinds.tolist(), counts.tolist(), strict=True)
    }


def alarm_name(code: int) -> str:
    return AlarmType(int(code)).name.lower()


def _day(ts: int) -> str:
    return str(np.datetime64(int(ts), "s").astype("datetime64[D]"))


def ingest_batch(
    batch: Batch, *, engine: Engine, source: str, now: float | None = None, received_at: float | None = None
) -> IngestReport:
    """Process one decoded batch (call inside :func:`cityloop.brain.engine.session`)."""
    received_at = time.time() if received_at is None else received_at
    now = received_at if now is None else now
    pending = engine.pending
    report = IngestReport(received=len(batch) + len(batch.errors))
    if batch.errors:
        n = len(batch.errors)
        messages = [f"row {r}: {f}: {why}" for r, f, why in batch.errors]
        # A reading a gateway may not write (brain/ingest/access.py) is readable but refused: its own reason.
        reasons = [NOT_BOUND if f == NOT_BOUND else UNREADABLE for _r, f, _why in batch.errors]
        engine.buffer.add_rejects([None] * n, np.full(n, np.nan), messages, reasons, source, received_at)
        for reason, count in Counter(reasons).items():
            pending.tallies[(_day(int(now)), source, reason)] += count
            report.rejected[reason] = count
        report.errors = messages[:20]
    if len(batch) == 0:
        pending.rejects += report.rejected_total
        return report
    codes = batch.device_arrow()
    idx = engine.lookup(codes)
    result = engine.bank.process(idx, batch.ts, batch.value, now=int(now), seen=engine.seen)

    bad = np.flatnonzero(~result.accepted)
    if len(bad):
        reasons, counted = _reason_counts(result.reason[bad])
        engine.buffer.add_rejects(
            codes.take(pa.array(bad)).to_pylist(),
            batch.ts[bad].astype(np.float64),
            batch.value[bad].tolist(),
            reasons,
            source,
            received_at,
        )
        for reason, count in counted.items():
            report.rejected[reason] = report.rejected.get(reason, 0) + count
            pending.tallies[(_day(int(now)), source, reason)] += count

    ok = np.flatnonzero(result.accepted)
    report.accepted = len(ok)
    if len(ok):
        ix, ts = idx[ok], batch.ts[ok]
        engine.buffer.add_readings(
            codes if len(ok) == len(codes) else codes.take(pa.array(ok)),
            ix,
            engine.kind_names(ix),
            ts,
            batch.value[ok],
            result.consumption[ok],
            source,
        )
        _fold_pulse(engine, ix, ts, result.consumption[ok])
        latest = engine.latest_ts
        np.fmax.at(latest, ix, ts.astype(np.float64))
    report.alarms = len(result.alarms)
    queue_alarms(engine, result.alarms, received_at)
    pending.readings += report.accepted
    pending.rejects += report.rejected_total
    return report


def _fold_pulse(engine: Engine, ix: np.ndarray, ts: np.ndarray, consumption: np.ndarray) -> None:
    """Add readings to the pending hourly pulse per (hour, district, street, kind)."""
    hour = ts // 3600
    # A device counts once per hour across batches: only the first reading of an hour newer than the
    # last hour it was counted in.
    # (device, hour) pairs as one int64 key each: np.unique on rows (axis=0) cost half of a gateway
    # batch's ingest.
    h0 = int(hour.min())
    span = int(hour.max()) - h0 + 1
    keys = unique_keys(ix.astype(np.int64) * span + (hour - h0), len(engine.last_hour) * span)
    pairs = np.column_stack([keys // span, keys % span + h0])
    fresh = pairs[pairs[:, 1] > engine.last_hour[pairs[:, 0]]]
    np.maximum.at(engine.last_hour, pairs[:, 0], pairs[:, 1])
    sums = hourly_rollup(hour, engine.place[ix], engine.kind_no[ix], consumption)
    devs = hourly_rollup(
        fresh[:, 1], engine.place[fresh[:, 0]], engine.kind_no[fresh[:, 0]], np.zeros(len(fresh))
    )
    names = _kind_names(engine)
    pulse = engine.pending.pulse
    places = engine.places
    for table, columns in ((sums, (("consumption_sum", 0), ("readings", 1))), (devs, (("readings", 2),))):
        # Python numbers first: a numpy scalar per group and field cost a cycle of a few thousand
        # street-hours a fifth of its ingest.
        street_hours = [
            (h * 3600, *places[g], names[k])
            for h, g, k in zip(
                table["hour"].tolist(), table["group"].tolist(), table["kind"].tolist(), strict=True
            )
        ]
        for column, slot in columns:
            for street_hour, x in zip(street_hours, table[column].tolist(), strict=True):
                pulse[street_hour][slot] += x


def unique_keys(keys: np.ndarray, n_keys: int) -> np.ndarray:
    """``np.unique(keys)`` for keys in ``[0, n_keys)``: through a mark per possible key when there are
    not many more of those than keys (no sort: np.unique of a gateway cycle's million keys was the
    largest numpy cost of its ingest), else by sorting."""
    if n_keys <= max(16 * len(keys), 1 << 22):
        mark = np.zeros(n_keys, dtype=bool)
        mark[keys] = True
        return np.flatnonzero(mark)
    return np.unique(keys)


def _kind_names(engine: Engine) -> dict[int, str]:
    from cityloop.brain.detect.detectors import Kind

    return {int(k): k.name.lower() for k in Kind}


def queue_alarms(engine: Engine, alarms: Alarms, received_at: float) -> None:
    if len(alarms) == 0:
        return
    names = _kind_names(engine)
    for i in range(len(alarms)):
        ix = int(alarms.idx[i])
        evidence = alarms.evidence(i)
        evidence.pop("device", None)
        evidence["device"] = engine.code[ix]
        engine.pending.alarms.append(
            AlarmEvent(
                device_idx=ix,
                type=alarm_name(alarms.type[i]),
                ts=float(alarms.ts[i]),
                value=float(alarms.value[i]),
                score=float(alarms.score[i]),
                evidence=evidence,
                received_at=received_at,
            )
        )
        hour = int(alarms.ts[i]) // 3600 * 3600
        key = (hour, int(engine.district[ix]), int(engine.street[ix]), names[int(engine.kind_no[ix])])
        engine.pending.pulse[key][3] += 1


def check_silent(engine: Engine, now: float | None = None) -> int:
    """Raise SILENT alarms for devices whose readings stopped; returns how many."""
    now = time.time() if now is None else now
    alarms = engine.bank.check_silent(int(now))
    queue_alarms(engine, alarms, now)
    return len(alarms)
