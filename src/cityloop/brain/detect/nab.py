"""Run a detector over a NAB data directory and write NAB's results layout (no Django).

Layout: ``OUT/<detector>/<category>/<detector>_<file>.csv`` with columns
``timestamp,value,anomaly_score,label`` (label 1 inside a labelled window).
Anomaly scores are written with 12 significant digits, which is what NAB's
own (Python 2) results files hold; the published scoreboard was computed
from such files, so ties at 1.0 behave the same.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from .context import ContextDetector
from .streaming import score_many

ScoreFn = Callable[[np.ndarray], np.ndarray]


def _read(path: Path) -> tuple[list[str], list[str], np.ndarray]:
    ts, raw, vals = [], [], []
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        ti, vi = header.index("timestamp"), header.index("value")
        for row in reader:
            if not row:
                continue
            ts.append(row[ti])
            raw.append(row[vi])
            try:
                vals.append(float(row[vi]))
            except ValueError:
                vals.append(float("nan"))
    return ts, raw, np.asarray(vals, dtype=np.float64)


def _labels(ts: list[str], windows: list[list[str]]) -> np.ndarray:
    t = np.array([s.strip().replace(" ", "T") for s in ts], dtype="datetime64[us]")
    lab = np.zeros(len(ts), dtype=np.int8)
    for a, b in windows:
        ta = np.datetime64(a.strip().replace(" ", "T"), "us")
        tb = np.datetime64(b.strip().replace(" ", "T"), "us")
        lab[(t >= ta) & (t <= tb)] = 1
    return lab


# CityLoop's NAB detector is the contextual detector (context.py) and the streaming one
# (streaming.py) together: a reading scores the larger of the contextual score and this share of the
# streaming score. The contextual detector learns sequences (NAB's machine and traffic series), the
# streaming one a level that jumps or drifts away from its course. 0.8 is the best of 0.5-1.0 on the
# whole corpus (in-sample); bench/nab/heldout.py tunes it on one half of the files and scores the other.
STREAMING_WEIGHT = 0.8


def probation(n: int) -> int:
    """NAB's probationary period of a file of ``n`` rows: 15 %, at most 750 rows."""
    return int(min(math.floor(0.15 * n), 0.15 * 5000))


def context_scores_nab(values: np.ndarray, value_range: str = "file") -> np.ndarray:
    """The contextual detector on one NAB file, set up as NAB sets up every detector: an alarm rests
    the next fifth of the probationary period. NaN readings score 0 and teach nothing.

    ``value_range`` "file": the value range is the file's minimum and maximum (NAB's inputMin and
    inputMax, which NAB hands every detector as a sensor's measuring range; HTM's and CAD OSE's
    published rows use them). "learnt": strictly causal, the range is the minimum and maximum of the
    probationary period, learnt by reading it first (those rows score 0, as NAB ignores them);
    values outside it fall in the edge bins."""
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros(len(values))
    rows = np.flatnonzero(np.isfinite(values))
    if not len(rows):
        return out
    learning = probation(len(values))
    known = rows if value_range == "file" else rows[rows < learning]
    if not len(known):
        known = rows[:1]
    detector = ContextDetector(float(values[known].min()), float(values[known].max()), rest=learning // 5)
    for i in rows:
        score = detector.score(float(values[i]))
        out[i] = score if value_range == "file" or i >= learning else 0.0
    return out


def context_scores_many(
    series: list[np.ndarray], processes: int = 1, value_range: str = "file"
) -> list[np.ndarray]:
    """context_scores_nab of every series, over ``processes`` processes (one Python thread each: the
    contextual detector is plain Python)."""
    ranges = [value_range] * len(series)
    if processes <= 1:
        return list(map(context_scores_nab, series, ranges))
    with ProcessPoolExecutor(processes) as pool:
        return list(pool.map(context_scores_nab, series, ranges, chunksize=1))


def cityloop_scores(
    series: list[np.ndarray],
    *,
    weight: float = STREAMING_WEIGHT,
    context: list[np.ndarray] | None = None,
    processes: int = 1,
    **streaming_params,
) -> list[np.ndarray]:
    """CityLoop's NAB scores: max(contextual, ``weight`` × streaming) per reading. ``context`` may be
    given already computed (it has no parameters to tune)."""
    if context is None:
        context = context_scores_many(series, processes)
    streaming = score_many(series, **streaming_params)
    return [np.maximum(c, weight * s) for c, s in zip(context, streaming, strict=True)]


def data_files(data_dir: str | Path) -> list[tuple[str, Path]]:
    """``(category/file.csv, path)`` for every series under ``DATA/data``."""
    root = Path(data_dir) / "data"
    return [(f"{p.parent.name}/{p.name}", p) for p in sorted(root.glob("*/*.csv"))]


def read_values(data_dir: str | Path) -> list[np.ndarray]:
    """The values of every series, in data_files' order."""
    return [_read(path)[2] for _, path in data_files(data_dir)]


def write_nab_results(
    data_dir: str | Path,
    out_dir: str | Path,
    detector_name: str = "cityloop",
    score_fn: ScoreFn | None = None,
    detector_params: dict | None = None,
    processes: int = 1,
    context: list[np.ndarray] | None = None,
) -> list[Path]:
    """Score every NAB series with a detector and write the results files.

    ``detector_name`` "cityloop" runs :func:`cityloop_scores` (the contextual detector on
    ``processes`` processes, the streaming one on all series at once), "context" the contextual
    detector alone; both take ``context``, the contextual scores already computed
    (:func:`read_values`' order). "null" writes 0.5 everywhere; any other name needs
    ``score_fn(values) -> scores``.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    labels_path = data_dir / "labels" / "combined_windows.json"
    windows = json.loads(labels_path.read_text()) if labels_path.exists() else {}
    files = data_files(data_dir)
    read = [(rel, *_read(p)) for rel, p in files]

    values = [v for _, _, _, v in read]
    if detector_name == "cityloop" and score_fn is None:
        all_scores = cityloop_scores(values, processes=processes, context=context, **(detector_params or {}))
    elif detector_name == "context" and score_fn is None:
        all_scores = context if context is not None else context_scores_many(values, processes)
    elif detector_name == "null" and score_fn is None:
        all_scores = [np.full(len(v), 0.5) for _, _, _, v in read]
    elif score_fn is not None:
        all_scores = [np.asarray(score_fn(v), dtype=np.float64) for _, _, _, v in read]
    else:
        raise ValueError(f"unknown detector {detector_name!r} and no score_fn given")

    written = []
    for (rel, ts, raw, _), scores in zip(read, all_scores, strict=True):
        cat, name = rel.split("/")
        dest = out_dir / detector_name / cat / f"{detector_name}_{name}"
        dest.parent.mkdir(parents=True, exist_ok=True)
        lab = _labels(ts, windows.get(rel, []))
        with open(dest, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["timestamp", "value", "anomaly_score", "label"])
            for t, v, s, lb in zip(ts, raw, scores, lab, strict=True):
                w.writerow([t, v, f"{float(s):.12g}", int(lb)])
        written.append(dest)
    return written
