"""Run NAB detectors, write NAB's results layout, score and print the table.

    python -m bench.nab.run --data /work/shared/data/nab --results RESULTS_DIR \
        [--detector windowedGaussian|cityloop|both] [--no-heldout]

The RESULT line carries ``nab_standard``, ``nab_low_fp`` and ``nab_low_fn`` (CityLoop's
detector, cityloop.brain.detect.nab.cityloop_scores, whole corpus, in-sample: its defaults were
tuned on it) and
``nab_heldout_standard``, the mean of the two held-out halves (see heldout.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT / "src") not in sys.path:
    sys.path.insert(0, str(_ROOT / "src"))

from cityloop.brain.detect.nab import context_scores_many, read_values, write_nab_results  # noqa: E402

from .heldout import GRID, heldout  # noqa: E402
from .scorer import PROFILE_SHORT, PROFILES, load_results, score_corpus  # noqa: E402
from .windowed_gaussian import windowed_gaussian_scores  # noqa: E402

PROCESSES = os.cpu_count() or 1  # the contextual detector runs one file per process

PUBLISHED = {
    "numenta (HTM)": (70.5, 62.6, 75.2),
    "CAD OSE": (69.9, 67.0, 73.2),
    "windowedGaussian": (39.6, 20.9, 47.4),
    "random": (11.0, 1.2, 19.5),
    "null": (0.0, 0.0, 0.0),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="NAB root (with data/ and labels/)")
    ap.add_argument("--results", required=True, help="results directory to write")
    ap.add_argument(
        "--detector",
        default="both",
        choices=["windowedGaussian", "context", "cityloop", "both"],
        help="both: the reference Windowed Gaussian, CityLoop's contextual detector alone and CityLoop's",
    )
    ap.add_argument(
        "--context-range",
        default="file",
        choices=["file", "learnt"],
        help="the contextual detector's value range: each file's min and max, as NAB hands every detector"
        " (default), or learnt over the probationary period (strictly causal)",
    )
    ap.add_argument(
        "--no-heldout", action="store_true", help="skip the two-fold held-out score of CityLoop's detector"
    )
    args = ap.parse_args(argv)
    t_start = time.perf_counter()

    detectors = ["windowedGaussian", "context", "cityloop"] if args.detector == "both" else [args.detector]
    context = None
    if {"context", "cityloop"} & set(detectors):  # computed once for both (it has no parameter)
        t0 = time.perf_counter()
        context = context_scores_many(read_values(args.data), PROCESSES, args.context_range)
        print(
            f"contextual detector (value range: {args.context_range}): {time.perf_counter() - t0:.1f}s"
            f" on {PROCESSES} processes"
        )
    rows = []
    for name in detectors:
        t0 = time.perf_counter()
        fn = windowed_gaussian_scores if name == "windowedGaussian" else None
        paths = write_nab_results(
            args.data, args.results, name, score_fn=fn, processes=PROCESSES, context=context
        )
        t1 = time.perf_counter()
        scores = load_results(args.results, name, args.data)
        cs = score_corpus(name, scores, args.data)
        t2 = time.perf_counter()
        print(f"{name}: {len(paths)} files, detect+write {t1 - t0:.1f}s, score {t2 - t1:.1f}s")
        for prof in PROFILES:
            c = cs.counts[prof]
            print(
                f"  {prof:<20} threshold={cs.thresholds[prof]:.6g} raw={cs.raw[prof]:.3f} tp={c.tp} fp={c.fp}"
            )
        rows.append((name, cs))

    print()
    print(f"{'detector':<30}{'standard':>10}{'low FP':>10}{'low FN':>10}")
    for name, vals in PUBLISHED.items():
        print(f"{name + ' (published)':<30}{vals[0]:>10.1f}{vals[1]:>10.1f}{vals[2]:>10.1f}")
    for name, cs in rows:
        n = cs.normalized
        print(
            f"{name:<30}{n['standard']:>10.2f}{n['reward_low_FP_rate']:>10.2f}{n['reward_low_FN_rate']:>10.2f}"
        )
    extra = ""
    ours = dict(rows).get("cityloop")
    if ours is not None:
        extra += " " + " ".join(f"nab_{PROFILE_SHORT[p]}={ours.normalized[p]:.2f}" for p in PROFILES)
        if not args.no_heldout:
            extra += " " + _print_heldout(args.data, context)
    print()
    for i, (name, cs) in enumerate(rows):
        parts = " ".join(f"nab_{name}_{PROFILE_SHORT[p]}={cs.normalized[p]:.2f}" for p in PROFILES)
        print(f"RESULT {parts}{extra if i == len(rows) - 1 else ''}")
    print(f"bench-nab: {time.perf_counter() - t_start:.1f} s wall; load average {os.getloadavg()[0]:.1f}")
    return 0


def _print_heldout(data: str, context) -> str:
    """Print the two-fold held-out scores (see heldout.py); return the RESULT fields."""
    t0 = time.perf_counter()
    folds, n_points = heldout(data, processes=PROCESSES, context=context)
    grid = ", ".join(f"{k} {list(v)}" for k, v in sorted(GRID.items()))
    print()
    print(f"held-out (files sorted by path, alternating within each category; grid of {n_points}: {grid})")
    for f in folds:
        h, d = f.heldout.normalized, f.default_on_test.normalized
        params = " ".join(f"{k}={v:g}" for k, v in sorted(f.params.items()))
        print(f"  tune on {f.tune} ({params}; standard {f.tune_standard:.2f} on {f.tune}) -> score {f.test}:")
        print(
            f"    held-out {f.test}: standard {h['standard']:.2f} low FP {h['reward_low_FP_rate']:.2f}"
            f" low FN {h['reward_low_FN_rate']:.2f}  (defaults on {f.test}: {d['standard']:.2f} /"
            f" {d['reward_low_FP_rate']:.2f} / {d['reward_low_FN_rate']:.2f})"
        )
    mean = {p: sum(f.heldout.normalized[p] for f in folds) / len(folds) for p in PROFILES}
    print(
        f"  held-out mean: standard {mean['standard']:.2f} low FP {mean['reward_low_FP_rate']:.2f}"
        f" low FN {mean['reward_low_FN_rate']:.2f}  ({time.perf_counter() - t0:.1f} s)"
    )
    return " ".join(
        [f"nab_heldout_{f.test}_standard={f.heldout.normalized['standard']:.2f}" for f in folds]
        + [f"nab_heldout_standard={mean['standard']:.2f}"]
    )


if __name__ == "__main__":
    raise SystemExit(main())
