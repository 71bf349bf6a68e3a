"""Cross-validate the hotline request classifier on real public data (one core, no Django).

    python bench/classifier_eval.py [--data DIR] [--folds 5] [--seeds 0,1,2] [--estimator auto|svc|logreg|all]

Tasks (seeded, stratified K-fold; classes with fewer than K examples and rows with an empty text
or label are left out and counted):

- ``gov_cn``: Chinese citizen messages (``gov_messages_cn/messages_labelled.csv``),
  text = 留言主题 + 留言详情, label = 一级分类 (298 messages, 7 classes);
- ``nyc_type``: NYC 311 (``nyc311/nyc311_combined.csv``), descriptor → complaint_type;
- ``nyc_agency``: NYC 311, descriptor → agency.

CV on a few hundred rows moves by a point or two with the seed of the split alone, so the CV is
repeated for every seed of ``--seeds`` (default 0, 1 and 2); accuracy and macro-F1 are the mean over
the seeds, and the table shows each seed's accuracy and their spread (max − min). ``--seed N`` runs
one seed. Prints a Markdown table and one ``RESULT task=... accuracy=... macro_f1=... n=...
classes=... seeds=... accuracy_min=... accuracy_max=...`` line per task and estimator. For context
the table also shows the majority-class accuracy and the text-only ceiling: the accuracy of the
best possible function of the text on the same rows (identical texts with different labels cannot
all be right).
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # one core: must be set before numpy is imported

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter, defaultdict  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from cityloop.hotline.intake import classifier  # noqa: E402

TASKS = [
    ("gov_cn", "gov_messages_cn/messages_labelled.csv", ["留言主题", "留言详情"], "一级分类"),
    ("nyc_type", "nyc311/nyc311_combined.csv", ["descriptor"], "complaint_type"),
    ("nyc_agency", "nyc311/nyc311_combined.csv", ["descriptor"], "agency"),
]


def kept(texts: list[str], labels: list[str], folds: int) -> tuple[list[str], list[str]]:
    counts = Counter(labels)
    pairs = [(t, y) for t, y in zip(texts, labels, strict=True) if counts[y] >= folds]
    return [t for t, _ in pairs], [y for _, y in pairs]


def majority(labels: list[str]) -> float:
    return Counter(labels).most_common(1)[0][1] / len(labels)


def ceiling(texts: list[str], labels: list[str]) -> float:
    by_text: dict[str, Counter] = defaultdict(Counter)
    for t, y in zip(texts, labels, strict=True):
        by_text[classifier.normalise_text(t)][y] += 1
    return sum(c.most_common(1)[0][1] for c in by_text.values()) / len(labels)


def per_seed(accuracies: list[float]) -> str:
    """Each seed's accuracy and, with more than one seed, their spread (max − min)."""
    shown = " / ".join(f"{a:.4f}" for a in accuracies)
    return shown if len(accuracies) == 1 else f"{shown} ({max(accuracies) - min(accuracies):.4f})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        type=Path,
        default=ROOT.parent / "shared" / "data",
        help="the shared data folder (default: ../shared/data from the repository root)",
    )
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, help="one seed (the same as --seeds N)")
    ap.add_argument("--seeds", default="0,1,2", help="comma-separated seeds of the CV splits (default 0,1,2)")
    ap.add_argument(
        "--estimator",
        choices=["auto", "svc", "logreg", "all"],
        default="auto",
        help="auto = what `cityloop hotline train` uses; all = auto and logreg",
    )
    ap.add_argument("--tasks", default=",".join(t[0] for t in TASKS), help="comma-separated subset")
    args = ap.parse_args(argv)
    estimators = ["auto", "logreg"] if args.estimator == "all" else [args.estimator]
    wanted = set(args.tasks.split(","))
    try:
        seeds = [args.seed] if args.seed is not None else [int(x) for x in args.seeds.split(",") if x.strip()]
    except ValueError:
        ap.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    if not seeds:
        ap.error("--seeds names no seed")

    started = time.perf_counter()
    rows = []
    for name, rel, text_cols, label_col in TASKS:
        if name not in wanted:
            continue
        path = args.data / rel
        if not path.is_file():
            print(f"data file not found: {path} (use --data)", file=sys.stderr)
            return 2
        data = classifier.read_csv(path, text_cols, label_col)
        texts, labels = kept(data.texts, data.labels, args.folds)
        for est in estimators:
            runs = [
                classifier.cross_validate(data.texts, data.labels, folds=args.folds, seed=seed, estimator=est)
                for seed in seeds
            ]
            r = dict(runs[0])
            accuracies = [x["accuracy"] for x in runs]
            r.update(
                accuracy=sum(accuracies) / len(runs),
                macro_f1=sum(x["macro_f1"] for x in runs) / len(runs),
                seed_accuracy=accuracies,
                seconds=sum(x["seconds"] for x in runs),
                task=name,
                skipped=data.skipped,
                majority=majority(labels),
                ceiling=ceiling(texts, labels),
                label=f"{'+'.join(text_cols)} → {label_col}",
            )
            rows.append(r)
            print(
                f"{name} [{est}]: mean accuracy {r['accuracy']:.4f} (seeds: "
                f"{' '.join(f'{a:.4f}' for a in accuracies)}), mean macro-F1 {r['macro_f1']:.4f} "
                f"({r['seconds']:.1f} s)",
                file=sys.stderr,
                flush=True,
            )

    print(
        f"\n{args.folds}-fold stratified CV, mean over seeds {', '.join(map(str, seeds))}, one core; "
        "features: "
        f"subject x{classifier.SUBJECT_REPEAT + 1} + char_wb 1-3 gram tf-idf\n"
    )
    print(
        "| task | text → label | model | n | classes | left out (rows) | accuracy | per seed (spread) "
        "| macro-F1 | majority | text-only ceiling | time |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        left = f"{r['skipped']} empty, {r['dropped_rows']} in {r['dropped_classes']} small classes"
        model = "LinearSVC+sigmoid" if "SVC" in r["estimator"] else "LogReg C=10"
        print(
            f"| {r['task']} | {r['label']} | {model} | {r['n']} | {r['classes']} | {left} "
            f"| {r['accuracy']:.4f} | {per_seed(r['seed_accuracy'])} | {r['macro_f1']:.4f} "
            f"| {r['majority']:.4f} | {r['ceiling']:.4f} "
            f"| {r['seconds']:.1f} s |"
        )
    print()
    for r in rows:
        model = "svc" if "SVC" in r["estimator"] else "logreg"
        print(
            f"RESULT task={r['task']} model={model} accuracy={r['accuracy']:.4f} "
            f"macro_f1={r['macro_f1']:.4f} n={r['n']} classes={r['classes']} "
            f"seeds={','.join(map(str, seeds))} accuracy_min={min(r['seed_accuracy']):.4f} "
            f"accuracy_max={max(r['seed_accuracy']):.4f}"
        )
    print(f"total time {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
