"""Archive compaction: each closed hour's committed parts become one file holding the same readings; an
open hour, an uncommitted generation and a crash half-way are left as they must be."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cityloop.brain.archive import archive, compaction

HOUR_US = 3_600_000_000
T0 = int(np.datetime64("2026-11-18T01:00", "us").astype(np.int64))  # 09:00 in Beijing


def _part(root: Path, hour_us: int, generation: int, values: list[float]) -> Path:
    h = np.datetime64(hour_us, "us")
    folder = root / "archive" / f"date={str(h)[:10]}" / f"hour={str(h)[11:13]}"
    folder.mkdir(parents=True, exist_ok=True)
    n = len(values)
    table = pa.table(
        {
            "device": pa.array([f"D{generation}"] * n),
            "idx": pa.array(np.arange(n, dtype=np.int32)),
            "kind": pa.array(["water"] * n),
            "ts": pa.array(hour_us + np.arange(n, dtype=np.int64) * 60_000_000).cast(
                pa.timestamp("us", tz="UTC")
            ),
            "value": pa.array(values, pa.float64()),
            "consumption": pa.array([1.0] * n),
            "source": pa.array(["test"] * n),
        },
        schema=archive.READINGS_SCHEMA,
    )
    path = folder / f"part-g{generation:012d}-00000.parquet"
    pq.write_table(table, path)
    return path


def _total(root: Path) -> tuple[int, float]:
    con = archive.connect(root)
    count, total = con.execute("SELECT count(*), sum(value) FROM readings").fetchone()
    return count, total


def test_a_closed_hours_parts_become_one_file_with_the_same_readings(tmp_path):
    root, state = tmp_path, tmp_path / "state"
    closed = [_part(root, T0, g, [float(g)] * 3) for g in (1, 2, 3)]
    open_hour = [_part(root, T0 + HOUR_US, g, [10.0]) for g in (3, 4)]
    uncommitted = _part(root, T0, 5, [100.0])
    before = _total(root)

    done = compaction.compact(root, state, committed=4, before_us=T0 + HOUR_US)

    assert (done.folders, done.parts) == (1, 3)
    assert not any(p.exists() for p in closed)
    assert all(p.exists() for p in open_hour) and uncommitted.exists()
    merged = closed[0].parent / "part-g000000000003-compacted.parquet"
    assert pq.ParquetFile(merged).read().num_rows == 9
    assert _total(root) == before
    assert not (state / compaction.JOURNAL).exists()
    # the uncommitted generation is still the discard's to remove, and the merged file is not
    assert archive.discard_uncommitted(root, state, 4) == 0  # (no pending list: nothing to discard)
    # late readings for the hour, compacted again, join the merged file
    _part(root, T0, 6, [1.0])
    compaction.compact(root, state, committed=6, before_us=T0 + HOUR_US)
    assert [p.name for p in sorted(closed[0].parent.glob("*.parquet"))] == [
        "part-g000000000006-compacted.parquet"
    ]
    assert _total(root) == (before[0] + 1, before[1] + 1.0)


def test_a_compaction_cut_short_is_finished_or_undone_before_the_next(tmp_path):
    root, state = tmp_path, tmp_path / "state"
    state.mkdir()
    parts = [_part(root, T0, g, [1.0]) for g in (1, 2)]
    target = parts[0].parent / "part-g000000000002-compacted.parquet"
    tmp = parts[0].parent / ".compacting-g000000000002.tmp"
    journal = state / compaction.JOURNAL
    step = {"target": str(target), "tmp": str(tmp), "parts": [str(p) for p in parts]}

    # killed while writing: the temporary file goes, the parts stay
    tmp.write_bytes(b"half a parquet file")
    journal.write_text(json.dumps(step))
    compaction.finish(state)
    assert not tmp.exists() and all(p.exists() for p in parts) and not journal.exists()

    # killed after the merged file was in place: the parts go, so nothing counts twice
    pq.write_table(pa.concat_tables([pq.ParquetFile(p).read() for p in parts]), target)
    journal.write_text(json.dumps(step))
    compaction.finish(state)
    assert target.exists() and not any(p.exists() for p in parts)
    assert _total(root) == (2, 2.0)


def test_the_scheduled_job_compacts_real_checkpoints_and_the_engine_carries_on(devices, brain_dir):
    import time

    from cityloop.brain import actions, engine
    from cityloop.brain.ingest.codec import Batch
    from cityloop.core import schedule

    assert schedule.JOBS["brain.compact_archive"].cron == "20 * * * *"
    now = time.time()
    hour = (int(now) // 3600 - 3) * 3600  # an hour that ended two hours ago
    for batch in range(3):  # three uploads, three checkpoints, three part files in that hour
        ts = hour + 60 * np.arange(batch * 20, batch * 20 + 20)
        actions.upload_readings(
            Batch(np.array(["N1"] * 20, dtype=object), ts, np.full(20, 50.0 + batch)), source="test"
        )
    folder = next((brain_dir / "archive").glob("date=*/hour=*"))
    assert len(list(folder.glob("*.parquet"))) == 3
    before = _total(brain_dir)

    assert actions.compact_archive() == "3 part file(s) merged into 1 file(s)"

    assert len(list(folder.glob("*.parquet"))) == 1
    assert _total(brain_dir) == before
    engine.forget_engines()  # a restart: the checkpoint's discard leaves the merged file alone
    actions.upload_readings(
        Batch(np.array(["N1"], dtype=object), np.array([int(now) - 30]), np.array([51.0])), source="test"
    )
    assert _total(brain_dir) == (before[0] + 1, before[1] + 51.0)
