"""Archive compaction: every checkpoint writes one part file per hour it touched, so an hour of a busy
city is thousands of small files, and DuckDB opens each one per query. Compaction merges the committed
parts of each closed hour (of each closed day, for rejects) into one file.

It runs inside the engine's session (``brain.actions.compact_archive``, the scheduler's
``brain.compact_archive`` job): the engine owns the generation files, and no checkpoint writes or
discards parts meanwhile. The merged file is named after the newest generation it holds, so
:func:`archive.discard_uncommitted` (which removes only generations newer than the committed one) never
takes it, and a later compaction of the same hour (late readings, decision 0011) merges it again.

A crash between writing the merged file and removing its parts would count those readings twice, so the
step is journalled (``state/compaction.json``) and :func:`finish` completes or undoes it first.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from cityloop.brain.archive import archive

JOURNAL = "compaction.json"
_PART = re.compile(r"part-g(\d{12})-.+\.parquet")


@dataclass
class Compacted:
    folders: int = 0
    parts: int = 0  # part files merged away

    def line(self) -> str:
        return f"{self.parts} part file(s) merged into {self.folders} file(s)"


def generation_of(path: Path) -> int | None:
    match = _PART.fullmatch(path.name)
    return int(match.group(1)) if match else None


def _end_us(folder: Path) -> int:
    """When the hour (``hour=HH`` under ``date=...``) or the day (``date=...``) of a folder ends."""
    if folder.name.startswith("hour="):
        start = np.datetime64(f"{folder.parent.name[5:]}T{folder.name[5:]}:00", "us")
        return int((start + np.timedelta64(1, "h")).astype(np.int64))
    start = np.datetime64(folder.name[5:], "us")
    return int((start + np.timedelta64(1, "D")).astype(np.int64))


def finish(state_dir: Path) -> None:
    """Complete a compaction a crash interrupted: the merged file is there → its parts go; it is not →
    its half-written temporary file goes and the parts stay."""
    journal = state_dir / JOURNAL
    if not journal.exists():
        return
    step = json.loads(journal.read_text() or "{}")
    if step.get("target") and os.path.exists(step["target"]):
        for part in step.get("parts", []):
            if part != step["target"] and os.path.exists(part):
                os.remove(part)
    elif step.get("tmp") and os.path.exists(step["tmp"]):
        os.remove(step["tmp"])
    journal.unlink()


def compact(root: Path, state_dir: Path, committed: int, *, before_us: int) -> Compacted:
    """Merge the parts of generations up to ``committed`` in every folder that ended by ``before_us``."""
    finish(state_dir)
    done = Compacted()
    for what, pattern in (("archive", "date=*/hour=*"), ("rejects", "date=*")):
        for folder in sorted((root / what).glob(pattern)):
            if not folder.is_dir() or _end_us(folder) > before_us:
                continue
            parts = sorted(
                p
                for p in folder.glob("part-g*.parquet")
                if (g := generation_of(p)) is not None and g <= committed
            )
            if len(parts) < 2:
                continue
            _merge(state_dir, folder, parts)
            done.folders += 1
            done.parts += len(parts)
    return done


def _merge(state_dir: Path, folder: Path, parts: list[Path]) -> None:
    newest = max(generation_of(p) or 0 for p in parts)
    target = folder / f"part-g{newest:012d}-compacted.parquet"
    tmp = folder / f".compacting-g{newest:012d}.tmp"
    journal = state_dir / JOURNAL
    state_dir.mkdir(parents=True, exist_ok=True)
    journal.write_text(json.dumps({"target": str(target), "tmp": str(tmp), "parts": [str(p) for p in parts]}))
    # Read as files, not as a dataset: the hive folders' date/hour must not become columns.
    tables = [pq.ParquetFile(p).read() for p in parts]
    merged = pa.concat_tables(tables)
    order = np.argsort(merged.column("ts").cast(pa.int64()).fill_null(0).to_numpy(), kind="stable")
    merged = merged.take(pa.array(order))
    archive.write_parquet(merged, tmp)
    os.replace(tmp, target)
    for part in parts:
        if part != target and part.exists():
            part.unlink()
    journal.unlink()
