"""Run NAB detectors, write NAB's results layout, score and print the table.

    python -m bench.nab.run --data /work/shared/data/nab --results RESULTS_DIR \
        [--detector windowedGaussian|cityloop|both]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
if str(_ROOT / "src") not in sys.path:
    sys.path.insert(0, str(_ROOT / "src"))

from cityloop.brain.detect.nab import write_nab_results  # noqa: E402

from .scorer import PROFILE_SHORT, PROFILES, load_results, score_corpus  # noqa: E402
from .windowed_gaussian import windowed_gaussian_scores  # noqa: E402

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
    ap.add_argument("--detector", default="both", choices=["windowedGaussian", "cityloop", "both"])
    args = ap.parse_args(argv)

    detectors = ["windowedGaussian", "cityloop"] if args.detector == "both" else [args.detector]
    rows = []
    for name in detectors:
        t0 = time.perf_counter()
        fn = windowed_gaussian_scores if name == "windowedGaussian" else None
        paths = write_nab_results(args.data, args.results, name, score_fn=fn)
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
    print()
    for name, cs in rows:
        parts = " ".join(f"nab_{name}_{PROFILE_SHORT[p]}={cs.normalized[p]:.2f}" for p in PROFILES)
        print(f"RESULT {parts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
