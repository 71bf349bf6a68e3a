"""The raw-reading archive: Hive-partitioned Parquet files, written once per checkpoint generation.

Layout under the brain root (``DATA_DIR`` by default)::

    archive/date=YYYY-MM-DD/hour=HH/part-g<generation>-<n>.parquet     accepted readings
    rejects/date=YYYY-MM-DD/part-g<generation>-<n>.parquet             rejected readings + reason

A generation's files count only once the checkpoint that names the generation is committed (see
:mod:`cityloop.brain.engine`).  Before writing them the writer lists them in
``state/pending-<generation>.json``; on start-up :func:`discard_uncommitted` removes the files of
every generation newer than the committed one, so a crash between writing parts and committing the
checkpoint never leaves readings that would be archived a second time on replay.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

READINGS_SCHEMA = pa.schema(
    [
        ("device", pa.string()),
        ("idx", pa.int32()),
        ("kind", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("value", pa.float64()),
        ("consumption", pa.float64()),
        ("source", pa.string()),
    ]
)
REJECTS_SCHEMA = pa.schema(
    [
        ("device", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("value", pa.string()),
        ("reason", pa.string()),
        ("source", pa.string()),
        ("received_at", pa.timestamp("us", tz="UTC")),
    ]
)


def _us(ts_seconds: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(ts_seconds, dtype=np.float64) * 1e6).astype(np.int64)


def _strings(items) -> pa.Array:
    if isinstance(items, pa.ChunkedArray):
        items = items.combine_chunks()
    if isinstance(items, pa.Array):
        return items if items.type == pa.string() else items.cast(pa.string())
    return pa.array(np.asarray(items, dtype=object), pa.string())


def _texts(items: list) -> list:
    """Each item as text (None stays missing): one C-level map unless something is missing."""
    return [None if x is None else str(x) for x in items] if None in items else list(map(str, items))


@dataclass
class ArchiveBuffer:
    """Readings accepted (and rejected) since the last checkpoint, kept as column chunks."""

    readings: list[pa.RecordBatch] = field(default_factory=list)
    rejects: list[pa.RecordBatch] = field(default_factory=list)

    def add_readings(
        self,
        device: np.ndarray | pa.Array,
        idx: np.ndarray,
        kind: np.ndarray | pa.Array,
        ts: np.ndarray,
        value: np.ndarray,
        consumption: np.ndarray,
        source: str,
    ) -> None:
        """Accepted readings; the device codes and kinds as Arrow string arrays (as the ingest has them:
        no Python string per reading) or as anything numpy holds."""
        if len(idx) == 0:
            return
        n = len(idx)
        self.readings.append(
            pa.record_batch(
                [
                    _strings(device),
                    pa.array(np.asarray(idx, dtype=np.int32)),
                    _strings(kind),
                    pa.array(_us(ts), pa.int64()).cast(pa.timestamp("us", tz="UTC")),
                    pa.array(np.asarray(value, dtype=np.float64)),
                    pa.array(np.asarray(consumption, dtype=np.float64)),
                    pa.repeat(pa.scalar(source, pa.string()), n),
                ],
                schema=READINGS_SCHEMA,
            )
        )

    def add_rejects(
        self, device: list, ts: np.ndarray, value: list, reason: list[str], source: str, received_at: float
    ) -> None:
        if len(reason) == 0:
            return
        n = len(reason)
        ts_us = np.where(np.isfinite(ts), _us(np.nan_to_num(ts)), 0)
        self.rejects.append(
            pa.record_batch(
                [
                    pa.array(_texts(device), pa.string()),
                    pa.array(ts_us, pa.int64(), mask=~np.isfinite(ts)).cast(pa.timestamp("us", tz="UTC")),
                    pa.array(_texts(value), pa.string()),
                    pa.array(reason, pa.string()),
                    pa.array([source] * n, pa.string()),
                    pa.array(np.full(n, int(received_at * 1e6), dtype=np.int64)).cast(
                        pa.timestamp("us", tz="UTC")
                    ),
                ],
                schema=REJECTS_SCHEMA,
            )
        )

    def __len__(self) -> int:
        return sum(b.num_rows for b in self.readings) + sum(b.num_rows for b in self.rejects)

    def clear(self) -> None:
        self.readings.clear()
        self.rejects.clear()


# Columns whose values are nearly all different: a dictionary page only costs time there (Parquet
# writers try one, fill it, then fall back to plain values). The others (device, kind, source, idx,
# reason) repeat and compress well through one.
NEARLY_UNIQUE = frozenset({"ts", "value", "consumption", "received_at"})


def write_parquet(table: pa.Table, path: Path) -> None:
    """One Parquet file of readings or rejects: zstd, dictionaries only where values repeat.

    ``python bench/bench_archive_write.py`` (200,000 gateway readings, 2 cores, 2026-12-05): 115-126 ms
    and 5.39 MB with dictionaries on every column, 55-58 ms and 4.40 MB like this. A checkpoint writes
    one such file per hour its cycle touched."""
    dictionary = [name for name in table.column_names if name not in NEARLY_UNIQUE]
    pq.write_table(table, path, compression="zstd", use_dictionary=dictionary)


def _write_partitioned(table: pa.Table, base: Path, generation: int, hourly: bool) -> list[Path]:
    if table.num_rows == 0:
        return []
    us = table.column("ts").cast(pa.int64()).fill_null(0).to_numpy()
    hour = us // 3_600_000_000
    order = np.argsort(hour, kind="stable")
    hour_sorted = hour[order]
    cuts = np.flatnonzero(np.diff(hour_sorted)) + 1
    starts = np.concatenate([[0], cuts])
    ends = np.concatenate([cuts, [len(order)]])
    written: dict[Path, list[pa.Table]] = {}
    for a, b in zip(starts, ends, strict=True):
        h = np.datetime64(int(hour_sorted[a]), "h")
        day = str(h.astype("datetime64[D]"))
        folder = base / f"date={day}"
        if hourly:
            folder = folder / f"hour={int(str(h)[11:13]):02d}"
        written.setdefault(folder, []).append(table.take(pa.array(order[a:b])))
    paths = []
    for n, (folder, parts) in enumerate(sorted(written.items())):
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"part-g{generation:012d}-{n:05d}.parquet"
        tmp = target.with_suffix(".tmp")
        write_parquet(pa.concat_tables(parts), tmp)
        os.replace(tmp, target)
        paths.append(target)
    return paths


def planned_paths_file(state_dir: Path, generation: int) -> Path:
    return state_dir / f"pending-{generation:012d}.json"


def write_generation(root: Path, state_dir: Path, buffer: ArchiveBuffer, generation: int) -> list[Path]:
    """Write the buffer as generation ``generation``'s part files (not yet committed)."""
    readings = (
        pa.Table.from_batches(buffer.readings, schema=READINGS_SCHEMA)
        if buffer.readings
        else READINGS_SCHEMA.empty_table()
    )
    rejects = (
        pa.Table.from_batches(buffer.rejects, schema=REJECTS_SCHEMA)
        if buffer.rejects
        else REJECTS_SCHEMA.empty_table()
    )
    state_dir.mkdir(parents=True, exist_ok=True)
    pending = planned_paths_file(state_dir, generation)
    # The list is written first so a crash in the middle of writing parts can still be cleaned up.
    folders = {"archive": str(root / "archive"), "rejects": str(root / "rejects")}
    pending.write_text(json.dumps({"generation": generation, "folders": folders}))
    paths = _write_partitioned(readings, root / "archive", generation, hourly=True)
    paths += _write_partitioned(rejects, root / "rejects", generation, hourly=False)
    pending.write_text(
        json.dumps({"generation": generation, "folders": folders, "paths": [str(p) for p in paths]})
    )
    return paths


def discard_uncommitted(root: Path, state_dir: Path, committed: int) -> int:
    """Remove the parts of generations newer than ``committed``; forget the lists of older ones."""
    removed = 0
    for pending in sorted(state_dir.glob("pending-*.json")):
        generation = int(pending.stem.split("-")[1])
        if generation > committed:
            info = json.loads(pending.read_text() or "{}")
            paths = info.get("paths")
            if paths is None:  # crashed while writing: find the generation's parts by name
                pattern = f"part-g{generation:012d}-*"
                paths = [str(p) for p in (root / "archive").glob(f"*/*/{pattern}")]
                paths += [str(p) for p in (root / "rejects").glob(f"*/{pattern}")]
                paths += [str(p) for p in (root / "archive").glob("*/*/*.tmp")]
            for p in paths:
                if os.path.exists(p):
                    os.remove(p)
                    removed += 1
        pending.unlink()
    return removed


def glob_for(root: Path, what: str = "archive") -> str:
    return str(root / what / ("*/*/*.parquet" if what == "archive" else "*/*.parquet"))


def has_files(root: Path, what: str = "archive") -> bool:
    pattern = "*/*/*.parquet" if what == "archive" else "*/*.parquet"
    return any((root / what).glob(pattern))


def connect(root: Path):
    """A DuckDB connection with views ``readings`` and ``rejects`` over the archive."""
    import duckdb

    con = duckdb.connect()
    for view, schema, what in (
        ("readings", READINGS_SCHEMA, "archive"),
        ("rejects", REJECTS_SCHEMA, "rejects"),
    ):
        if has_files(root, what):
            source = glob_for(root, what).replace("'", "''")
            con.execute(
                f"CREATE VIEW {view} AS SELECT * FROM read_parquet('{source}', hive_partitioning=true, "  # noqa: S608 (fixed view name; the path is quoted)
                "union_by_name=true)"
            )
        else:
            con.register(f"empty_{view}", schema.empty_table())
            con.execute(f"CREATE VIEW {view} AS SELECT * FROM empty_{view}")  # noqa: S608 (fixed view names)
    return con


# The most readings one device's chart reads back (a minute sensor's 33 hours).
RECENT_LIMIT = 2000


def recent_readings(root: Path, device: str, *, since_us: int, limit: int = RECENT_LIMIT) -> pa.Table:
    """The device's archived readings with ``ts`` at or after ``since_us`` (newest ``limit``)."""
    day = str(np.datetime64(since_us, "us").astype("datetime64[D]"))
    folders = sorted(p for p in (root / "archive").glob("date=*") if p.name[5:] >= day)
    files = [str(f) for folder in folders for f in folder.glob("*/*.parquet")]
    if not files:
        return READINGS_SCHEMA.empty_table()
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    since = pa.scalar(since_us, pa.timestamp("us", tz="UTC"))
    table = ds.dataset(files, schema=READINGS_SCHEMA, format="parquet").to_table(
        columns=["ts", "value", "consumption"],
        filter=(pc.field("device") == device) & (pc.field("ts") >= since),
    )
    table = table.sort_by("ts")
    return table.slice(max(0, table.num_rows - limit))


def latest_reading(root: Path, device: str) -> tuple | None:
    """(ts, value) of the device's newest archived reading, searching day folders newest first."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    for folder in sorted((root / "archive").glob("date=*"), reverse=True):
        files = [str(f) for f in folder.glob("*/*.parquet")]
        if not files:
            continue
        table = ds.dataset(files, schema=READINGS_SCHEMA, format="parquet").to_table(
            columns=["ts", "value"], filter=pc.field("device") == device
        )
        if table.num_rows:
            newest = pc.index(table.column("ts"), pc.max(table.column("ts"))).as_py()
            return table.column("ts")[newest].as_py(), table.column("value")[newest].as_py()
    return None


_PAIR_SHIFT = (
    34  # a (device, second) pair as one int64: the device's place among the asked codes, then the second
)


def accepted_pairs(
    root: Path, buffer: ArchiveBuffer, device: list[str], ts_seconds: np.ndarray
) -> np.ndarray:
    """For each (device, ts), whether a reading with exactly that device and time was accepted: in the
    buffer of the open checkpoint or in the archive's hour folders of those times.  The slow path of
    the late-reading check (a reading older than what its device's ring remembers): rare from meters,
    common when a gateway's backlog comes through several workers, so it is vectorised: each pair is
    one int64 (the code's place among the asked codes, then the whole second), matched with a sort."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    us = _us(ts_seconds)
    asked = pa.array(device, pa.string())
    codes = pc.unique(asked)
    sec = us // 1_000_000
    whole = (us % 1_000_000 == 0) & (sec >= 0) & (sec < 1 << _PAIR_SHIFT)
    wanted = np.where(
        whole, (pc.index_in(asked, value_set=codes).to_numpy().astype(np.int64) << _PAIR_SHIFT) | sec, -1
    )
    found: list[np.ndarray] = []

    def scan(dev: pa.Array, ts: pa.Array) -> None:
        place = pc.index_in(dev, value_set=codes)
        if place.null_count == len(place):
            return
        stamp = ts.cast(pa.int64()).to_numpy(zero_copy_only=False)
        mine = ~place.is_null().to_numpy(zero_copy_only=False) & (stamp % 1_000_000 == 0)
        s = stamp[mine] // 1_000_000
        p = place.to_numpy(zero_copy_only=False)[mine].astype(np.int64)
        ok = (s >= 0) & (s < 1 << _PAIR_SHIFT)
        found.append((p[ok] << _PAIR_SHIFT) | s[ok])

    for batch in buffer.readings:
        scan(batch.column("device"), batch.column("ts"))
    hours = np.unique(us // 3_600_000_000).tolist()
    files = []
    for hour in hours:
        h = np.datetime64(hour, "h")
        folder = root / "archive" / f"date={h.astype('datetime64[D]')}" / f"hour={int(str(h)[11:13]):02d}"
        files += [str(f) for f in folder.glob("*.parquet")]
    if files:
        table = ds.dataset(files, schema=READINGS_SCHEMA, format="parquet").to_table(
            columns=["device", "ts"], filter=pc.field("device").isin(codes)
        )
        scan(table.column("device").combine_chunks(), table.column("ts").combine_chunks())
    if not found:
        return np.zeros(len(device), dtype=bool)
    return np.isin(wanted, np.concatenate(found)) & whole
