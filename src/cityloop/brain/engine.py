"""The brain's running state and its checkpoint.

One :class:`Engine` per brain root (``CITYLOOP_BRAIN_DIR``, default ``DATA_DIR``) holds the detector
bank, the device table as arrays, the readings not yet archived and the pulse not yet stored.  Whoever
processes readings (the worker, or an HTTP upload when no worker runs) takes the root's file lock,
brings the engine up to the committed checkpoint, ingests, and checkpoints.

A checkpoint is atomic with the database as the commit point:

1. the archive parts of generation G+1 are written (listed first in ``state/pending-G+1.json``);
2. the detector snapshot is written to ``state/state-G+1.npz`` (tmp file + rename);
3. one database transaction stores the pulse, reject tallies, alarms/cases and
   ``brain_checkpoint(generation=G+1, stream_seq=S)``.

After a crash the engine loads the committed generation and deletes everything newer, so readings
after stream sequence S are processed again exactly once.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from django.conf import settings
from django.db import transaction
from django.db.models import F

from cityloop.brain.archive import archive
from cityloop.brain.detect.detectors import DetectorBank
from cityloop.brain.detect.detectors import Kind as DetectorKind
from cityloop.brain.ingest.codec import DeviceIndex
from cityloop.brain.models import Checkpoint, Device, Hourly, RejectTally
from cityloop.brain.rules import AlarmEvent
from cityloop.core import config

CHECKPOINT_NAME = "main"  # without CITYLOOP_BRAIN_SHARD: one brain root, one checkpoint


def checkpoint_name() -> str:
    """The checkpoint this process commits: ``CITYLOOP_BRAIN_SHARD`` or ``main``. One per brain root:
    two hosts owning different shards, each with its own root, would otherwise take turns on one row
    and the second would find no state file for the first one's generation."""
    return config.brain_shard()


# How long a process trusts its copy of the device registry.  Reading every device at each session
# cost a worker sharing the topics with another 40 % of its time (and seconds per session at 3 M
# devices).  New codes are looked up at once (Engine.lookup); this process's own registry writes
# mark the copy stale (devices_changed); another process's switch-off is seen within this time.
DEVICES_FRESH_S = 30.0


def brain_root() -> Path:
    return config.brain_dir()


@dataclass
class Pending:
    """What the next checkpoint stores in the database."""

    # (hour epoch s, district id, street id, kind) -> [consumption, readings, devices, alarms]
    pulse: dict = field(default_factory=lambda: defaultdict(lambda: [0.0, 0, 0, 0]))
    tallies: dict = field(default_factory=lambda: defaultdict(int))  # (day, source, reason) -> n
    alarms: list[AlarmEvent] = field(default_factory=list)
    readings: int = 0
    rejects: int = 0
    stream_seq: int | None = None


class Engine:
    def __init__(self, root: Path):
        self.root = root
        self.state_dir = root / "state"
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.generation = -1
        self.instance = ""
        self.stream_seq = 0
        self.buffer = archive.ArchiveBuffer()
        self.pending = Pending()
        self.bank = None
        self.n = 0
        self._index = DeviceIndex()  # device code -> position in _index_idx (a hash table)
        self._index_idx = np.zeros(0, dtype=np.int64)  # position -> device idx
        self.devices_read_at = float("-inf")  # time.monotonic() of the last _load_devices

    # -- device table -------------------------------------------------------------------------
    def devices_stale(self) -> bool:
        return time.monotonic() - self.devices_read_at > DEVICES_FRESH_S

    def _load_devices(self) -> None:
        self.devices_read_at = time.monotonic()
        rows = list(
            Device.objects.order_by("idx").values_list(
                "idx", "code", "kind", "interval_s", "district_id", "street_id", "active"
            )
        )
        n = (rows[-1][0] + 1) if rows else 0
        code = np.full(n, None, dtype=object)
        kind = np.full(n, "", dtype=object)
        interval = np.full(n, 3600, dtype=np.int64)
        district = np.full(n, -1, dtype=np.int64)
        street = np.full(n, -1, dtype=np.int64)
        active = np.zeros(n, dtype=bool)
        for idx, c, k, iv, d, s, a in rows:
            code[idx], kind[idx], interval[idx] = c, k, iv
            district[idx], street[idx], active[idx] = d or -1, s or -1, a
        self.code, self.kind, self.interval = code, kind, interval
        self._kind_arrow = pa.array(kind.tolist(), pa.string())
        self.district, self.street, self.active = district, street, active
        # A dense "place" per device — its (district, street) pair — is the roll-up's group.
        pair_keys, place = np.unique(np.column_stack([district, street]), axis=0, return_inverse=True)
        self.places = [(int(d), int(s)) for d, s in pair_keys]
        self.place = place.ravel().astype(np.int64)
        present = np.flatnonzero(code != None)  # noqa: E711 - elementwise comparison on an object array
        # A hash table of the codes: a batch's codes are looked up as an Arrow array, without a Python
        # string per reading (sorted numpy strings and searchsorted cost a gateway batch a third of its
        # ingest).
        self._index = DeviceIndex(pa.array(code[present].tolist(), pa.string()))
        self._index_idx = present.astype(np.int64)
        kind_no = np.array([DetectorKind.from_name(k or "other") for k in kind], dtype=np.int64)
        self.kind_no = kind_no
        if self.bank is None:
            self.bank = DetectorBank(n, kind_no, interval, utc_offset_s=city_utc_offset(), params=_tuned())
        elif n > self.bank.n:
            self.bank.grow(n, kind_no, interval)
        self.n = n
        if not hasattr(self, "last_hour") or len(self.last_hour) < n:
            grown = np.full(n, -1, dtype=np.int64)
            if hasattr(self, "last_hour"):
                grown[: len(self.last_hour)] = self.last_hour
            self.last_hour = grown
            latest = np.full(n, np.nan)
            if hasattr(self, "latest_ts"):
                latest[: len(self.latest_ts)] = self.latest_ts
            self.latest_ts = latest

    def kind_names(self, idx: np.ndarray) -> pa.Array:
        """The kind of each device index, as an Arrow string array (what the archive stores)."""
        return self._kind_arrow.take(pa.array(idx))

    def seen(self, idx: np.ndarray, ts: np.ndarray) -> np.ndarray:
        """Whether each (device index, epoch s) was accepted before (this checkpoint's buffer, archive)."""
        return archive.accepted_pairs(self.root, self.buffer, self.code[idx].tolist(), ts)

    def lookup(self, codes) -> np.ndarray:
        """Device idx for each code (an Arrow string array, or anything numpy makes strings of); -1 for
        unknown or inactive devices (one vectorised hash lookup)."""
        q = codes if isinstance(codes, pa.Array) else pa.array(np.asarray(codes).astype(str), pa.string())
        idx = self._search(q)
        unknown = idx < 0
        if unknown.any():
            missing = set(q.filter(pa.array(unknown)).to_pylist())
            if Device.objects.filter(code__in=list(missing)[:10000]).exists():
                self._load_devices()  # registered since we last looked
                idx = self._search(q)
        ok = idx >= 0
        idx[ok] = np.where(self.active[idx[ok]], idx[ok], -1)
        return idx

    def _search(self, codes: pa.Array) -> np.ndarray:
        if len(self._index_idx) == 0:
            return np.full(len(codes), -1, dtype=np.int64)
        pos = self._index.lookup(codes)
        return np.where(pos >= 0, self._index_idx[np.maximum(pos, 0)], -1)

    # -- state ---------------------------------------------------------------------------------
    def _state_path(self, generation: int) -> Path:
        return self.state_dir / f"state-{generation:012d}.npz"

    def refresh(self) -> None:
        """Bring this engine to the committed checkpoint (after a crash, or another process's commit)."""
        cp, _ = Checkpoint.objects.get_or_create(name=checkpoint_name())
        if cp.generation == self.generation and self.bank is not None and cp.instance == self.instance:
            # Another process sharing this directory may have written the next generation's parts and
            # died before its commit: they belong to no checkpoint, so they go before this one writes.
            archive.discard_uncommitted(self.root, self.state_dir, cp.generation)
            if self.devices_stale():
                self._load_devices()
            return
        self._claim_directory(cp)
        self.instance = cp.instance
        archive.discard_uncommitted(self.root, self.state_dir, cp.generation)
        keep_devices = self.bank is not None and cp.instance == self.instance and not self.devices_stale()
        self.bank, self.n = None, 0
        for name in ("last_hour", "latest_ts"):
            self.__dict__.pop(name, None)
        if keep_devices:  # another process committed: its state is newer, the registry is not
            self.n = len(self.code)
            self.last_hour = np.full(self.n, -1, dtype=np.int64)
            self.latest_ts = np.full(self.n, np.nan)
            self.bank = DetectorBank(
                self.n, self.kind_no, self.interval, utc_offset_s=city_utc_offset(), params=_tuned()
            )
        else:
            self._load_devices()
        path = self._state_path(cp.generation)
        if cp.generation > 0 and path.exists():
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            last_hour = arrays.pop("engine.last_hour")
            m = len(last_hour)
            self.last_hour[:m] = last_hour
            self.latest_ts[:m] = arrays.pop("engine.latest_ts")
            self.bank = DetectorBank.restore(arrays)
            self.bank.retune(_tuned())  # a pack imported since the checkpoint takes effect here
            if self.bank.n < self.n:
                self.bank.grow(self.n, self.kind_no, self.interval)
        elif cp.generation > 0:
            raise RuntimeError(
                f"the brain's checkpoint {cp.generation} has no state file {path}; "
                "restore the brain directory from backup"
            )
        self.generation, self.stream_seq = cp.generation, cp.stream_seq
        self.buffer.clear()
        self.pending = Pending()

    def checkpoint(
        self, *, record_alarms: Callable[[list[AlarmEvent]], object], stream_seq: int | None = None
    ) -> int:
        """Commit everything processed so far (see the module docstring); returns the generation.

        Called only by :func:`cityloop.brain.actions.commit`, which passes the closed loop's
        ``record_alarms``: the alarms (and the cases they open) commit in the checkpoint's transaction.
        """
        generation = self.generation + 1
        seq = stream_seq if stream_seq is not None else (self.pending.stream_seq or self.stream_seq)
        archive.write_generation(self.root, self.state_dir, self.buffer, generation)
        path = self._state_path(generation)
        tmp = path.with_name(path.name + ".tmp.npz")
        arrays = self.bank.snapshot()
        arrays["engine.last_hour"] = self.last_hour[: self.n]
        arrays["engine.latest_ts"] = self.latest_ts[: self.n]
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        with transaction.atomic():
            self._store_pending()
            record_alarms(self.pending.alarms)
            updated = Checkpoint.objects.filter(name=checkpoint_name(), generation=self.generation).update(
                generation=generation,
                stream_seq=seq,
                readings=F("readings") + self.pending.readings,
                rejects=F("rejects") + self.pending.rejects,
            )
            if updated != 1:
                raise RuntimeError(
                    "another process committed a brain checkpoint while this one held the lock"
                )
        for old in self.state_dir.glob("state-*.npz"):
            if old != path:
                old.unlink(missing_ok=True)
        archive.planned_paths_file(self.state_dir, generation).unlink(missing_ok=True)
        self.generation, self.stream_seq = generation, seq
        self.buffer.clear()
        self.pending = Pending()
        return generation

    def _store_pending(self) -> None:
        from datetime import UTC, datetime

        pulse = self.pending.pulse
        if pulse:
            from django.db import connection

            # Plain statements: Django's model objects (bulk_create, a queryset of rows) cost a gateway
            # cycle's checkpoint a third of a second for the ~2,000 new street-hours of 200,000 readings.
            stamps = {k[0]: datetime.fromtimestamp(k[0], tz=UTC) for k in pulse}
            db_hour = {h: connection.ops.adapt_datetimefield_value(d) for h, d in stamps.items()}
            # The hour as the database gives it back, without a model converter per row: PostgreSQL an
            # aware datetime (equal, and hashed alike, to ours), SQLite a naive one in UTC.
            epoch = {d: h for h, d in stamps.items()} | {d.replace(tzinfo=None): h for h, d in stamps.items()}
            table = connection.ops.quote_name(Hourly._meta.db_table)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id, hour, district_id, street_id, kind FROM {table} "  # noqa: S608 (the model's own table name)
                    f"WHERE hour IN ({', '.join(['%s'] * len(db_hour))})",
                    list(db_hour.values()),
                )
                rows = cursor.fetchall()
            existing = {}
            for pk, hour, district, street, kind in rows:
                h = epoch.get(hour)
                if h is None:  # another form of the same hour (text, from another backend): once per form
                    d = hour if isinstance(hour, datetime) else Hourly._meta.get_field("hour").to_python(hour)
                    h = epoch[hour] = int((d if d.tzinfo else d.replace(tzinfo=UTC)).timestamp())
                existing[(h, district or -1, street or -1, kind)] = pk
            new, changed = [], []  # new: the row's values; changed: (the increments..., row id)
            for key, (cons, readings, devices, alarms) in pulse.items():
                pk = existing.get(key)
                if pk is None:
                    hour, district, street, kind = key
                    new.append(
                        (
                            db_hour[hour],
                            None if district < 0 else district,
                            None if street < 0 else street,
                            kind,
                            cons,
                            readings,
                            devices,
                            alarms,
                        )
                    )
                else:
                    changed.append((cons, readings, devices, alarms, pk))
            table = connection.ops.quote_name(Hourly._meta.db_table)
            with connection.cursor() as cursor:
                if new:
                    cursor.executemany(
                        f"INSERT INTO {table} (hour, district_id, street_id, kind, consumption, readings, "  # noqa: S608 (the model's own table name)
                        "devices, alarms) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                        new,
                    )
                if changed:
                    # Increments in one prepared statement: Django's bulk_update builds a CASE per field
                    # and row, which cost most of a checkpoint's time at a few hundred streets.
                    cursor.executemany(
                        f"UPDATE {table} SET consumption = consumption + %s, readings = readings + %s, "  # noqa: S608 (the model's own table name)
                        "devices = devices + %s, alarms = alarms + %s WHERE id = %s",
                        changed,
                    )
        for (day, source, reason), count in self.pending.tallies.items():
            tally, _ = RejectTally.objects.get_or_create(day=day, source=source, reason=reason)
            RejectTally.objects.filter(pk=tally.pk).update(count=F("count") + count)

    def _claim_directory(self, cp: Checkpoint) -> None:
        """The brain directory belongs to one database; refuse (or, in tests, wipe) another's files."""
        marker = self.state_dir / "instance"
        owner = marker.read_text().strip() if marker.exists() else ""
        if owner == cp.instance:
            return
        if owner and cp.generation > 0 and not getattr(settings, "TESTING", False):
            raise RuntimeError(
                f"the brain directory {self.root} belongs to another database (instance {owner}); "
                "set CITYLOOP_BRAIN_DIR to this database's brain directory"
            )
        if owner:
            import shutil

            for folder in ("archive", "rejects"):
                shutil.rmtree(self.root / folder, ignore_errors=True)
            for old in self.state_dir.glob("*-*.*"):
                old.unlink(missing_ok=True)
        marker.write_text(cp.instance)


_engines: dict[Path, Engine] = {}
_engines_lock = threading.Lock()


@contextmanager
def session(root: Path | None = None):
    """The root's engine, exclusively (a file lock across processes, a mutex within one)."""
    root = root or brain_root()
    with _engines_lock:
        engine = _engines.get(root)
        if engine is None:
            engine = _engines[root] = Engine(root)
    lock_path = root / "state" / "lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with engine_mutex(engine), open(lock_path, "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            engine.refresh()
            yield engine
        except BaseException:
            # Whatever was half-processed is thrown away; the next session reloads the checkpoint.
            engine.generation = -1
            raise
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


_mutexes: dict[int, threading.Lock] = {}


def engine_mutex(engine: Engine) -> threading.Lock:
    with _engines_lock:
        return _mutexes.setdefault(id(engine), threading.Lock())


def devices_changed() -> None:
    """The device registry changed in this process: every cached engine reads it again at its next session."""
    with _engines_lock:
        for engine in _engines.values():
            engine.devices_read_at = float("-inf")


def forget_engines() -> None:
    """Drop cached engines (tests that point the brain at a fresh directory or database)."""
    with _engines_lock:
        _engines.clear()


def now() -> float:
    return time.time()


def _tuned():
    """The city's detector settings as its pack tunes them, read afresh (brain/tuning.py)."""
    from cityloop.brain import tuning

    tuning.forget()
    return tuning.city_params()


def city_utc_offset() -> int:
    """The default city's UTC offset now (night windows are local); 8 h when no city is loaded."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from cityloop.org.queries import default_city

    city = default_city()
    zone = getattr(getattr(city, "pack", None), "timezone", None) or settings.TIME_ZONE or "Asia/Shanghai"
    offset = datetime.now(ZoneInfo(zone)).utcoffset()
    return int(offset.total_seconds()) if offset is not None else 8 * 3600
