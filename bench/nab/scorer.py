"""A faithful, vectorised re-implementation of NAB v1.x scoring.

Follows numenta/NAB ``nab/sweeper.py`` (``Sweeper.calcSweepScore`` and
``Sweeper.calcScoreByThreshold``), ``nab/optimizer.py`` (the corpus-wide
threshold sweep), ``nab/scorer.py`` (per-file scoring at the chosen
threshold), ``nab/runner.py`` (``normalize``) and ``config/profiles.json``.

Rules reproduced:

* anomaly windows come from ``labels/combined_windows.json``; a row is inside
  a window when ``t1 <= timestamp <= t2`` (both ends inclusive);
* the first ``min(floor(0.15 * n), 0.15 * 5000)`` rows of every file are
  probationary and ignored (a window whose rows are all probationary is not
  scored);
* a row inside a window, if detected, is worth
  ``tpWeight * scaledSigmoid(-(right - i + 1) / width) / scaledSigmoid(-1)``
  and only the best (= earliest) detection of each window counts; a window
  with no detection costs ``-fnWeight``;
* a detection outside windows costs ``fpWeight * scaledSigmoid(d)`` where
  ``d = |i - prevRight| / (prevWidth - 1)`` is the distance past the preceding
  window's right edge (``-1`` for rows before the first window, and for
  ``d > 3``);
* a row is a detection when ``anomaly_score >= threshold``; the threshold is
  optimised once for the whole corpus (per profile) by sweeping every distinct
  score, exactly like the sweeper;
* the raw score is normalised between the null detector (no detection:
  ``-fnWeight * windows``) and the perfect detector (``tpWeight * windows``):
  ``100 * (raw - null) / (perfect - null)``.

The module has no third-party dependency except numpy.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PROFILES: dict[str, dict[str, float]] = {
    # numenta/NAB config/profiles.json
    "standard": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.11, "tnWeight": 1.0},
    "reward_low_FP_rate": {"tpWeight": 1.0, "fnWeight": 1.0, "fpWeight": 0.22, "tnWeight": 1.0},
    "reward_low_FN_rate": {"tpWeight": 1.0, "fnWeight": 2.0, "fpWeight": 0.11, "tnWeight": 1.0},
}
PROFILE_SHORT = {"standard": "standard", "reward_low_FP_rate": "low_fp", "reward_low_FN_rate": "low_fn"}
PROBATION_PERCENT = 0.15


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


def scaled_sigmoid(relative_position):
    """NAB's ``scaledSigmoid`` (vectorised): ``2*sigmoid(-5*x) - 1``, ``-1`` for ``x > 3``."""
    x = np.asarray(relative_position, dtype=np.float64)
    val = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    val = np.where(x > 3.0, -1.0, val)
    return val if val.ndim else float(val)


def probationary_length(n_rows: int, probation_percent: float = PROBATION_PERCENT) -> int:
    """``min(floor(p * n), p * 5000)`` as in ``Sweeper._getProbationaryLength``."""
    return int(min(math.floor(probation_percent * n_rows), probation_percent * 5000))


# --------------------------------------------------------------------------- data


def parse_timestamps(strings) -> np.ndarray:
    """Parse NAB timestamps ("2014-02-19 10:50:00[.000000]") to datetime64[us]."""
    return np.array([s.strip().replace(" ", "T") for s in strings], dtype="datetime64[us]")


def read_series(path: str | Path) -> tuple[list[str], np.ndarray]:
    """Read a NAB data (or results) csv: returns (timestamp strings, values)."""
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        ti, vi = header.index("timestamp"), header.index("value")
        ts, vals = [], []
        for row in reader:
            if not row:
                continue
            ts.append(row[ti])
            vals.append(float(row[vi]) if row[vi] not in ("", "nan", "NaN") else np.nan)
    return ts, np.asarray(vals, dtype=np.float64)


def load_windows(labels_path: str | Path) -> dict[str, list[tuple[str, str]]]:
    with open(labels_path) as f:
        raw = json.load(f)
    return {k: [tuple(w) for w in v] for k, v in raw.items()}


def window_indices(timestamps: np.ndarray, windows) -> list[tuple[int, int]]:
    """Row index ranges (inclusive) of each window; limits must be data timestamps (as NAB requires)."""
    ts = (
        timestamps
        if np.issubdtype(np.asarray(timestamps).dtype, np.datetime64)
        else parse_timestamps(timestamps)
    )
    out = []
    for t1, t2 in windows:
        a = np.datetime64(str(t1).strip().replace(" ", "T"), "us")
        b = np.datetime64(str(t2).strip().replace(" ", "T"), "us")
        ia = np.flatnonzero(ts == a)
        ib = np.flatnonzero(ts == b)
        if len(ia) != 1 or len(ib) != 1:
            raise ValueError(f"window limit {t1!r}/{t2!r} is not exactly one timestamp of the data file")
        out.append((int(ia[0]), int(ib[0])))
    return out


def labels_from_windows(n: int, win_idx: list[tuple[int, int]]) -> np.ndarray:
    lab = np.zeros(n, dtype=np.int8)
    for a, b in win_idx:
        lab[a : b + 1] = 1
    return lab


# --------------------------------------------------------------------------- sweep


@dataclass
class FileSweep:
    """Per-row sweep data for one file (``Sweeper.calcSweepScore``), profile independent."""

    name: str
    scores: np.ndarray  # anomaly scores
    in_window: np.ndarray  # window number (0..k-1) for rows inside a window, -1 otherwise
    tp_unweighted: np.ndarray  # scaledSigmoid(position)/maxTP for rows inside windows
    fp_unweighted: np.ndarray  # scaledSigmoid(distance) (or -1) for rows outside windows
    probationary: np.ndarray  # bool
    n_windows: int
    scored_windows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


def calc_sweep(
    name: str, anomaly_scores, win_idx: list[tuple[int, int]], probation_percent: float = PROBATION_PERCENT
) -> FileSweep:
    s = np.asarray(anomaly_scores, dtype=np.float64)
    n = len(s)
    idx = np.arange(n)
    max_tp = scaled_sigmoid(-1.0)
    in_window = np.full(n, -1, dtype=np.int64)
    tp_u = np.zeros(n)
    fp_u = np.full(n, -1.0)  # before the first window: "really far away"
    for k, (a, b) in enumerate(sorted(win_idx)):
        width = float(b - a + 1)
        in_window[a : b + 1] = k
        pos = -(b - idx[a : b + 1] + 1) / width
        tp_u[a : b + 1] = scaled_sigmoid(pos) / max_tp
        # rows after this window (until the next one) are scored against it
        nxt = sorted(win_idx)[k + 1][0] if k + 1 < len(win_idx) else n
        if b + 1 < nxt:
            j = idx[b + 1 : nxt]
            denom = float(width - 1)
            with np.errstate(divide="ignore", invalid="ignore"):
                d = np.abs(b - j) / denom if denom > 0 else np.full(len(j), np.inf)
            fp_u[b + 1 : nxt] = scaled_sigmoid(d)
    prob = idx < probationary_length(n, probation_percent)
    scored = np.zeros(len(win_idx), dtype=bool)
    for k in range(len(win_idx)):
        scored[k] = np.any((in_window == k) & ~prob)
    return FileSweep(name, s, in_window, tp_u, fp_u, prob, len(win_idx), scored)


@dataclass
class SweepResult:
    threshold: float
    score: float  # raw NAB score at the best threshold
    tp: int
    fp: int
    fn: int
    tn: int


def corpus_sweep(
    files: list[FileSweep], cost: dict[str, float], threshold: float | None = None
) -> SweepResult:
    """``calcScoreByThreshold`` over all files at once; returns the best threshold (or the given one).

    Vectorised: rows are sorted by descending anomaly score; each window's
    contribution is the running max of its detected rows' TP score (starting at
    ``-fnWeight``), FPs add up; scores are read at the end of each tie group.
    """
    tpw, fpw, fnw = cost["tpWeight"], cost["fpWeight"], cost["fnWeight"]
    sc, win, val = [], [], []
    offset = 0
    n_scored_windows = 0
    for f in files:
        keep = ~f.probationary
        w = f.in_window[keep]
        sc.append(f.scores[keep])
        # global window id
        gw = np.where(w >= 0, w + offset, -1)
        win.append(gw)
        val.append(np.where(w >= 0, f.tp_unweighted[keep] * tpw, f.fp_unweighted[keep] * fpw))
        offset += f.n_windows
        n_scored_windows += int(f.scored_windows.sum())
    s = np.concatenate(sc) if sc else np.zeros(0)
    w = np.concatenate(win) if win else np.zeros(0, dtype=np.int64)
    v = np.concatenate(val) if val else np.zeros(0)
    if np.isnan(s).any():
        raise ValueError("anomaly scores contain NaN")
    base = -fnw * n_scored_windows

    order = np.argsort(-s, kind="stable")
    s, w, v = s[order], w[order], v[order]
    m = len(s)
    delta = np.where(w < 0, v, 0.0)
    inw = np.flatnonzero(w >= 0)
    if len(inw):
        ww = w[inw]
        vv = v[inw]
        g = np.lexsort((inw, ww))  # group by window, keep descending-score order
        gw, gv = ww[g], vv[g]
        # segmented running max: shift each window by a large offset so the max restarts
        uniq, start = np.unique(gw, return_index=True)
        rank = np.searchsorted(uniq, gw).astype(np.float64)
        big = 10.0 * (tpw + fnw + 1.0)
        cm = np.maximum.accumulate(np.maximum(gv, -fnw) + big * rank) - big * rank
        prev = np.empty_like(cm)
        prev[1:] = cm[:-1]
        prev[start] = -fnw
        d = np.empty(len(inw))
        d[g] = cm - prev
        delta[inw] = d
    total = base + np.cumsum(delta)
    is_tp = np.cumsum(w >= 0)
    is_fp = np.cumsum(w < 0)
    n_in = int((w >= 0).sum())
    n_out = m - n_in
    # candidates: no detection (threshold 1.1) + end of every tie group
    if m:
        ends = np.flatnonzero(np.r_[s[1:] != s[:-1], True])
    else:
        ends = np.zeros(0, dtype=np.int64)
    cand_thr = np.r_[1.1, s[ends]]
    cand_score = np.r_[base, total[ends]]
    cand_tp = np.r_[0, is_tp[ends]]
    cand_fp = np.r_[0, is_fp[ends]]
    if threshold is None:
        k = int(np.argmax(cand_score))  # first (highest threshold) among equal maxima, like sorted()
    else:
        # rows with score >= threshold are detections
        k = int(np.searchsorted(-cand_thr[1:], -threshold, side="right")) if m else 0
    tp, fp = int(cand_tp[k]), int(cand_fp[k])
    return SweepResult(float(cand_thr[k]), float(cand_score[k]), tp, fp, n_in - tp, n_out - fp)


def normalise(raw: float, n_windows: int, cost: dict[str, float], null_raw: float | None = None) -> float:
    perfect = n_windows * cost["tpWeight"]
    null = -cost["fnWeight"] * n_windows if null_raw is None else null_raw
    return 100.0 * (raw - null) / (perfect - null)


# --------------------------------------------------------------------------- corpus


def load_results(results_dir: str | Path, detector: str, data_dir: str | Path) -> dict[str, np.ndarray]:
    """Read ``RESULTS/<detector>/<category>/<detector>_<file>.csv`` anomaly scores keyed by data path."""
    results_dir, data_dir = Path(results_dir), Path(data_dir)
    out = {}
    for p in sorted((data_dir / "data").glob("*/*.csv")):
        rel = f"{p.parent.name}/{p.name}"
        rp = results_dir / detector / p.parent.name / f"{detector}_{p.name}"
        with open(rp, newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            ai = header.index("anomaly_score")
            out[rel] = np.array([float(r[ai]) for r in reader if r], dtype=np.float64)
    return out


@dataclass
class CorpusScore:
    detector: str
    normalized: dict[str, float]
    raw: dict[str, float]
    thresholds: dict[str, float]
    counts: dict[str, SweepResult]


def score_corpus(
    detector: str,
    scores_by_file: dict[str, np.ndarray],
    data_dir: str | Path,
    labels_path: str | Path | None = None,
    profiles=None,
) -> CorpusScore:
    """Optimise the threshold and score one detector on the whole corpus, for every profile."""
    data_dir = Path(data_dir)
    labels_path = Path(labels_path) if labels_path else data_dir / "labels" / "combined_windows.json"
    windows = load_windows(labels_path)
    profiles = profiles or PROFILES
    sweeps = []
    for rel in sorted(windows):
        ts, _ = read_series(data_dir / "data" / rel)
        widx = window_indices(parse_timestamps(ts), windows[rel])
        s = scores_by_file[rel]
        if len(s) != len(ts):
            raise ValueError(f"{rel}: {len(s)} scores for {len(ts)} rows")
        sweeps.append(calc_sweep(rel, s, widx))
    return score_sweeps(detector, sweeps, profiles, n_windows=sum(len(v) for v in windows.values()))


def score_sweeps(
    detector: str, sweeps: list[FileSweep], profiles=None, n_windows: int | None = None
) -> CorpusScore:
    profiles = profiles or PROFILES
    n_windows = sum(f.n_windows for f in sweeps) if n_windows is None else n_windows
    norm, raw, thr, counts = {}, {}, {}, {}
    for name, cost in profiles.items():
        best = corpus_sweep(sweeps, cost)
        # null detector: best sweep of a constant score == no detection at all
        null = -cost["fnWeight"] * sum(int(f.scored_windows.sum()) for f in sweeps)
        norm[name] = normalise(best.score, n_windows, cost, null_raw=null)
        raw[name], thr[name], counts[name] = best.score, best.threshold, best
    return CorpusScore(detector, norm, raw, thr, counts)


def score_file(sweep: FileSweep, cost: dict[str, float], threshold: float) -> float:
    """Raw score of one file at a fixed threshold (``Sweeper.scoreDataSet``)."""
    return corpus_sweep([sweep], cost, threshold=threshold).score
