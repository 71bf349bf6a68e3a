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
from collections.abc import Callable
from pathlib import Path

import numpy as np

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


def data_files(data_dir: str | Path) -> list[tuple[str, Path]]:
    """``(category/file.csv, path)`` for every series under ``DATA/data``."""
    root = Path(data_dir) / "data"
    return [(f"{p.parent.name}/{p.name}", p) for p in sorted(root.glob("*/*.csv"))]


def write_nab_results(
    data_dir: str | Path,
    out_dir: str | Path,
    detector_name: str = "cityloop",
    score_fn: ScoreFn | None = None,
    detector_params: dict | None = None,
) -> list[Path]:
    """Score every NAB series with a detector and write the results files.

    ``detector_name`` "cityloop" runs :mod:`cityloop.brain.detect.streaming` on all
    series at once (one vectorised state array), "null" writes 0.5 everywhere;
    any other name needs ``score_fn(values) -> scores``.
    """
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    labels_path = data_dir / "labels" / "combined_windows.json"
    windows = json.loads(labels_path.read_text()) if labels_path.exists() else {}
    files = data_files(data_dir)
    read = [(rel, *_read(p)) for rel, p in files]

    if detector_name == "cityloop" and score_fn is None:
        all_scores = score_many([v for _, _, _, v in read], **(detector_params or {}))
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
