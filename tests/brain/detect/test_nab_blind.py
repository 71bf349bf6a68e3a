"""NAB's rules for CityLoop's detector: its scores never read the labels, and it is causal.

The scores that `make bench-nab` writes come from `write_nab_results`; a NAB-shaped data file may
carry a `label` column and the corpus has `labels/combined_windows.json`. Changing or removing
either must not change one score. And the score of row k depends only on rows 0..k (and, for the
contextual detector, on the file's value range, which NAB hands every detector).
The held-out split of `bench/nab/heldout.py` is fixed, disjoint and stratified by category.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
from bench.nab.heldout import split_halves

from cityloop.brain.detect.nab import cityloop_scores, context_scores_nab, probation, write_nab_results
from cityloop.brain.detect.streaming import StreamingDetector, score_many

N = 600


def _series(seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    t0 = np.datetime64("2014-04-01T00:00:00")
    ts = [str(t0 + np.timedelta64(5 * i, "m")).replace("T", " ") for i in range(N)]
    v = 10 + np.sin(np.arange(N) / 20.0) + rng.normal(0, 0.3, N)
    v[400:405] += 8.0  # an anomaly, so scores are not all zero
    return ts, v


def _write_corpus(root: Path, labels: dict | None, label_col: list[int] | None) -> None:
    for i, cat in enumerate(("realA", "realB")):
        ts, v = _series(i)
        d = root / "data" / cat
        d.mkdir(parents=True, exist_ok=True)
        with open(d / f"s{i}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["timestamp", "value"] + (["label"] if label_col is not None else []))
            for k, (t, x) in enumerate(zip(ts, v, strict=True)):
                w.writerow([t, f"{x:.6f}"] + ([label_col[k]] if label_col is not None else []))
    if labels is not None:
        (root / "labels").mkdir(parents=True, exist_ok=True)
        (root / "labels" / "combined_windows.json").write_text(json.dumps(labels))


def _scores(out: Path) -> dict[str, list[str]]:
    got = {}
    for p in sorted(out.rglob("*.csv")):
        with open(p, newline="") as f:
            got[p.name] = [row["anomaly_score"] for row in csv.DictReader(f)]
    return got


def test_scores_do_not_read_the_label_windows_or_a_label_column(tmp_path):
    ts, _ = _series(0)
    windows = {
        "realA/s0.csv": [[ts[380], ts[420]]],
        "realB/s1.csv": [[ts[100], ts[150]], [ts[500], ts[550]]],
    }
    moved = {"realA/s0.csv": [[ts[200], ts[250]]], "realB/s1.csv": []}
    runs = []
    for name, labels, col in (
        ("labelled", windows, [int(380 <= k <= 420) for k in range(N)]),
        ("moved", moved, [int(k % 7 == 0) for k in range(N)]),
        ("none", None, None),
    ):
        data = tmp_path / name
        _write_corpus(data, labels, col)
        write_nab_results(data, tmp_path / f"out-{name}", "cityloop")
        runs.append(_scores(tmp_path / f"out-{name}"))
    assert runs[0] == runs[1] == runs[2]
    assert len(runs[0]) == 2 and all(len(s) == N for s in runs[0].values())
    assert max(float(x) for x in runs[0]["cityloop_s0.csv"]) > 0.5  # the detector did fire


def test_scores_are_causal():
    _, v = _series(3)
    _, other = _series(4)
    k = 450
    later = v.copy()
    later[k:] = other[k:] * 5.0 - 3.0  # every row from k on is different
    later[k + 10] = np.nan
    a, b = score_many([v, v[:k]]), score_many([later])
    assert np.array_equal(a[0][:k], b[0][:k])
    assert np.array_equal(a[0][:k], a[1])  # the first k rows alone give the same scores
    single = StreamingDetector(1).score_series(v)
    assert np.array_equal(single, a[0])


def test_the_nab_detector_reads_no_row_ahead_but_the_range():
    """Rows from k on are shuffled, so the file's minimum and maximum stay: the first k scores stay."""
    _, v = _series(5)
    k = 450
    later = v.copy()
    later[k:] = np.random.default_rng(9).permutation(v[k:])
    gap = next(j for j in range(k, N) if v.min() < later[j] < v.max())
    later[gap] = np.nan  # a missing reading later on changes nothing before it either
    assert (np.nanmin(later), np.nanmax(later)) == (v.min(), v.max())
    a, b = cityloop_scores([v]), cityloop_scores([later])
    assert np.array_equal(a[0][:k], b[0][:k])
    assert not np.array_equal(a[0][k:], b[0][k:])  # the later rows did change the later scores


def test_with_a_learnt_range_the_contextual_detector_reads_no_row_ahead_at_all():
    _, v = _series(6)
    k = 300
    later = v.copy()
    later[k:] = later[k:] * 3.0 + 50.0  # a new maximum after row k
    a, b = context_scores_nab(v, "learnt"), context_scores_nab(later, "learnt")
    assert np.array_equal(a[:k], b[:k])
    assert not a[: probation(N)].any()  # the learning rows score 0
    assert a[probation(N) :].any() and not np.array_equal(a[k:], b[k:])


def test_heldout_split_is_fixed_disjoint_and_stratified():
    files = [f"{cat}/f{i}.csv" for cat, n in (("c1", 5), ("c2", 2), ("c3", 1)) for i in range(n)]
    a, b = split_halves(list(reversed(files)))
    assert a == ["c1/f0.csv", "c1/f2.csv", "c1/f4.csv", "c2/f0.csv", "c3/f0.csv"]
    assert b == ["c1/f1.csv", "c1/f3.csv", "c2/f1.csv"]
    assert set(a).isdisjoint(b) and sorted(a + b) == sorted(files)
