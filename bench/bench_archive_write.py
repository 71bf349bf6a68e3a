"""How long the brain's checkpoint takes to write one Parquet file of readings, and its size.

    python bench/bench_archive_write.py [--rows 200000]

Writes the same 200,000 gateway-like readings (20,000 meters) seven times each way: zstd with
dictionaries on every column (pyarrow's default), and ``archive.write_parquet`` (dictionaries only
where values repeat); prints the median time and the file size, and checks that the file reads back
equal."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from cityloop.brain.archive import archive  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=200_000)
    args = ap.parse_args(argv)
    rng = np.random.default_rng(1)
    n = args.rows
    device = rng.integers(0, 20_000, n)
    buffer = archive.ArchiveBuffer()
    buffer.add_readings(
        np.array([f"M{d:07d}" for d in device], dtype=object),
        device.astype(np.int32),
        np.array(["water"] * n, dtype=object),
        1.7e9 + np.arange(n) * 0.9,
        rng.random(n) * 100,
        rng.random(n),
        "mqtt",
    )
    table = pa.Table.from_batches(buffer.readings)
    folder = tempfile.mkdtemp(prefix="cityloop-bench-archive-")
    results = {}
    ways = {
        "every_column": lambda p: pq.write_table(table, p, compression="zstd"),
        "write_parquet": lambda p: archive.write_parquet(table, Path(p)),
    }
    for name, write in ways.items():
        times = []
        for i in range(7):
            path = os.path.join(folder, f"{name}-{i}.parquet")
            started = time.perf_counter()
            write(path)
            times.append(time.perf_counter() - started)
            assert pq.read_table(path).equals(table)
        median_ms = 1000 * sorted(times)[len(times) // 2]
        size_mb = os.path.getsize(path) / 1e6
        results[name] = (median_ms, size_mb)
        print(f"{name}: {n:,} rows, median {median_ms:.0f} ms, {size_mb:.2f} MB", flush=True)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(
        f"RESULT archive_write_ms={results['write_parquet'][0]:.0f} "
        f"archive_write_mb={results['write_parquet'][1]:.2f} "
        f"every_column_ms={results['every_column'][0]:.0f} every_column_mb={results['every_column'][1]:.2f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
