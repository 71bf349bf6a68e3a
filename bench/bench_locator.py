"""Benchmark the locator: 1,000,000 seeded uniform random points in the nyc pack's bbox, one core.

    python bench/bench_locator.py [--pack PATH] [--points N] [--check N] [--repeat R]

The last line printed is exactly ``RESULT locator_points_per_s=<n>`` (median of R timed runs).
A correctness check compares the grid index with a naive test of every polygon in order
on a sample of points and exits non-zero on any disagreement.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: must be set before numpy is imported

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import shapely  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from cityloop.org.locator import Locator  # noqa: E402

DEFAULT_PACK = ROOT / "src" / "cityloop" / "org" / "packs" / "nyc" / "jurisdictions.geojson"


def pin_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        try:
            cpus = sorted(os.sched_getaffinity(0))
            os.sched_setaffinity(0, {cpus[0]})
        except OSError:
            pass


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--pack", type=Path, default=DEFAULT_PACK, help="jurisdictions GeoJSON (default: nyc pack)"
    )
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--check", type=int, default=20_000, help="points compared against the naive answer")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=12345)
    ap.add_argument("--grid-cells", type=int, default=1024)
    args = ap.parse_args(argv)
    pin_one_core()

    if not args.pack.exists():
        print(f"pack not found: {args.pack}", file=sys.stderr)
        return 2

    t0 = time.perf_counter()
    loc = Locator.from_geojson(args.pack, grid_cells=args.grid_cells)
    build_s = time.perf_counter() - t0
    all_geoms = [a.geometry for a in loc.areas.values()]
    minx, miny, maxx, maxy = shapely.total_bounds(all_geoms)
    print(f"pack {args.pack}")
    print(f"bbox ({minx:.5f}, {miny:.5f}) - ({maxx:.5f}, {maxy:.5f})")
    for lvl, st in loc.stats().items():
        print(
            f"  {lvl:9s} areas={st['areas']:4d} grid={st['nx']}x{st['ny']} "
            f"boundary_cells={st['boundary_cells']}"
        )
    print(f"build_s={build_s:.3f}")

    rng = np.random.default_rng(args.seed)
    lon = rng.uniform(minx, maxx, args.points)
    lat = rng.uniform(miny, maxy, args.points)

    # correctness: grid index vs naive per-polygon test, on every level and on the final answer
    n = min(args.check, args.points)
    slon, slat = lon[:n], lat[:n]
    ok = True
    naive = {}
    for lvl in ("district", "street", "community"):
        ix = loc._index[lvl]
        naive[lvl] = ix.naive(slon, slat)
        got = loc.locate_raw(lvl, slon, slat)
        bad = int((got != naive[lvl]).sum())
        ok &= bad == 0
        print(
            f"check {lvl:9s}: {n - bad}/{n} agree with naive intersects_xy", "" if bad == 0 else "  MISMATCH"
        )
        # with random floats no point lies exactly on an edge, so contains_xy must agree too
        cont = np.full(n, -1, dtype=np.int32)
        for p in range(ix.n - 1, -1, -1):
            cont[shapely.contains_xy(ix.geoms[p], slon, slat)] = p
        badc = int((got != cont).sum())
        ok &= badc == 0
        print(
            f"check {lvl:9s}: {n - badc}/{n} agree with naive contains_xy", "" if badc == 0 else "  MISMATCH"
        )
    batch = loc.locate_many(slon, slat)
    single = [loc.locate(x, y) for x, y in zip(slon[:2000], slat[:2000], strict=True)]
    badl = sum(batch.location(i) != single[i] for i in range(len(single)))
    ok &= badl == 0
    print(f"check locate vs locate_many: {len(single) - badl}/{len(single)} agree")
    print(f"inside fraction {batch.inside.mean():.3f}")
    if not ok:
        print("CORRECTNESS CHECK FAILED", file=sys.stderr)
        return 1

    loc.locate_many(lon[:10_000], lat[:10_000])  # warm up
    times = []
    for r in range(args.repeat):
        t0 = time.perf_counter()
        loc.locate_many(lon, lat)
        dt = time.perf_counter() - t0
        times.append(dt)
        print(f"run {r + 1}: {args.points} points in {dt:.3f} s ({args.points / dt:,.0f} points/s)")
    print(f"RESULT locator_points_per_s={int(args.points / float(np.median(times)))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
