"""Hourly roll-ups of accepted readings: the city's pulse (numpy only, no Django).

One row per (hour, group, kind) present: consumption summed, readings counted,
distinct devices reporting, and alarms raised.  Keys are packed into one integer
and counted with ``np.bincount`` when the key space is small (a sweep spans an
hour or two × a few hundred streets × a few kinds), else with ``np.unique``.
"""

from __future__ import annotations

import numpy as np

_DENSE_LIMIT = 4_000_000  # dense key space up to this many cells (≈ 100 MB of counters at worst)

COLUMNS = ("hour", "group", "kind", "consumption_sum", "readings", "devices_reporting", "alarms")


def _pack(hour, group, kind, h0, ng, nk):
    return ((hour - h0) * ng + group) * nk + kind


def hourly_rollup(
    hour, group, kind, consumption, *, device=None, alarms_per_group=None
) -> dict[str, np.ndarray]:
    """Roll readings up by (hour, group, kind).

    ``hour`` is the epoch hour (``ts // 3600``), ``group`` e.g. the street index,
    ``kind`` the device kind, ``consumption`` per reading (NaN counts as a reading
    without consumption).  ``device`` (per reading) makes ``devices_reporting``
    count distinct devices; without it every reading is taken to be a distinct
    device.  ``alarms_per_group`` is ``(hour, group, kind)`` of alarms raised.
    """
    hour = np.asarray(hour, np.int64)
    group = np.asarray(group, np.int64)
    kind = np.asarray(kind, np.int64)
    cons = np.asarray(consumption, np.float64)
    m = len(hour)
    if not (len(group) == len(kind) == len(cons) == m):
        raise ValueError("hour/group/kind/consumption: arrays must have the same length")
    if m and (group.min() < 0 or kind.min() < 0):
        raise ValueError("group/kind: must be non-negative indices")
    ah = ag = ak = np.zeros(0, np.int64)
    if alarms_per_group is not None:
        ah, ag, ak = (np.asarray(a, np.int64) for a in alarms_per_group)
    allh = np.concatenate([hour[:1], hour[-1:], ah[:1], ah[-1:]])
    if len(allh) == 0:
        return {c: np.zeros(0, np.float64 if c == "consumption_sum" else np.int64) for c in COLUMNS}
    h0 = min(int(hour.min()) if m else int(ah.min()), int(ah.min()) if len(ah) else 1 << 62)
    h1 = max(int(hour.max()) if m else int(ah.max()), int(ah.max()) if len(ah) else -(1 << 62))
    ng = int(max(group.max() if m else 0, ag.max() if len(ag) else 0)) + 1
    nk = int(max(kind.max() if m else 0, ak.max() if len(ak) else 0)) + 1
    key = _pack(hour, group, kind, h0, ng, nk)
    akey = _pack(ah, ag, ak, h0, ng, nk)
    cells = (h1 - h0 + 1) * ng * nk
    cons0 = np.where(np.isnan(cons), 0.0, cons)
    if device is not None:
        first = _first_of_pair(key, np.asarray(device, np.int64))
    if cells <= _DENSE_LIMIT:
        readings = np.bincount(key, minlength=cells)
        csum = np.bincount(key, weights=cons0, minlength=cells)
        devs = readings if device is None else np.bincount(key[first], minlength=cells)
        alarms = np.bincount(akey, minlength=cells)
        cell = np.flatnonzero((readings > 0) | (alarms > 0))
        readings, csum, devs, alarms = readings[cell], csum[cell], devs[cell], alarms[cell]
    else:
        cell, inv = np.unique(np.concatenate([key, akey]), return_inverse=True)
        inv_r, inv_a = inv[:m], inv[m:]
        readings = np.bincount(inv_r, minlength=len(cell))
        csum = np.bincount(inv_r, weights=cons0, minlength=len(cell))
        devs = readings if device is None else np.bincount(inv_r[first], minlength=len(cell))
        alarms = np.bincount(inv_a, minlength=len(cell))
    k = cell % nk
    rest = cell // nk
    return {
        "hour": rest // ng + h0,
        "group": rest % ng,
        "kind": k,
        "consumption_sum": csum,
        "readings": readings.astype(np.int64),
        "devices_reporting": np.asarray(devs, np.int64),
        "alarms": alarms.astype(np.int64),
    }


def _first_of_pair(key: np.ndarray, device: np.ndarray) -> np.ndarray:
    """Positions of the first reading of every distinct (key, device) pair."""
    if len(device) != len(key):
        raise ValueError("device: one device index per reading")
    if len(key) == 0:
        return np.zeros(0, np.int64)
    # one reading per device (a sweep) needs no sort
    if len(np.unique(device)) == len(device):
        return np.arange(len(key))
    order = np.lexsort((device, key))
    k, d = key[order], device[order]
    new = np.r_[True, (k[1:] != k[:-1]) | (d[1:] != d[:-1])]
    return order[new]


class HourlyRollup:
    """The same roll-up, accumulated batch by batch (a sweep's batches, or one shard's).

    ``cell`` is ``group * n_kinds + kind``, precomputed once per device (so a batch costs one
    gather of the device's cell, not two); every batch is counted with one ``np.bincount`` per
    measure over the hours it spans, and only its non-empty cells are kept.  :meth:`merge` adds
    another accumulator (a parallel shard's).  As in :func:`hourly_rollup` without ``device``,
    every reading counts as a device reporting: use it where a device reads once per hour per
    batch stream (a sweep), else :func:`hourly_rollup` with ``device``.
    :meth:`result` returns exactly what :func:`hourly_rollup` returns for all batches at once.
    """

    def __init__(self, n_groups: int, n_kinds: int):
        if n_groups <= 0 or n_kinds <= 0:
            raise ValueError("n_groups/n_kinds: must be positive")
        self.n_groups, self.n_kinds = int(n_groups), int(n_kinds)
        self._parts: list[
            tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
        ] = []  # (key, readings, csum, alarms)

    def _count(self, hour, cell, weights):
        """Non-empty (hour * cells + cell) keys of one batch, with counts and sums."""
        nc = self.n_groups * self.n_kinds
        hour = np.asarray(hour, np.int64)
        cell = np.asarray(cell)
        if len(hour) != len(cell) or (weights is not None and len(weights) != len(hour)):
            raise ValueError("hour/cell/consumption: arrays must have the same length")
        if len(hour) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        if cell.min() < 0 or cell.max() >= nc:
            raise ValueError(f"cell: must be group * n_kinds + kind in 0..{nc - 1}")
        lo, hi = int(hour.min()), int(hour.max())
        if (hi - lo + 1) * nc <= _DENSE_LIMIT:
            key = hour - lo
            key *= nc
            key += cell
            n = np.bincount(key, minlength=(hi - lo + 1) * nc)
            s = np.bincount(key, weights=weights, minlength=len(n)) if weights is not None else None
            at = np.flatnonzero(n)
            return at + lo * nc, n[at], (s[at] if s is not None else np.zeros(len(at)))
        key = hour * nc + cell
        at, inv = np.unique(key, return_inverse=True)
        return (
            at,
            np.bincount(inv, minlength=len(at)),
            (
                np.bincount(inv, weights=weights, minlength=len(at))
                if weights is not None
                else np.zeros(len(at))
            ),
        )

    def add(self, hour, cell, consumption) -> None:
        """Readings: epoch ``hour``, device ``cell``, ``consumption`` (NaN: a reading without consumption)."""
        cons = np.asarray(consumption, np.float64)
        if np.isnan(cons).any():
            cons = np.where(np.isnan(cons), 0.0, cons)
        key, n, s = self._count(hour, cell, cons)
        self._parts.append((key, n, s, np.zeros(len(key), np.int64)))

    def add_alarms(self, hour, cell) -> None:
        key, n, _ = self._count(hour, cell, None)
        self._parts.append((key, np.zeros(len(key), np.int64), np.zeros(len(key)), n))

    def merge(self, other: HourlyRollup) -> None:
        if (other.n_groups, other.n_kinds) != (self.n_groups, self.n_kinds):
            raise ValueError("other: roll-ups of different shapes (n_groups, n_kinds)")
        self._parts += other._parts

    def result(self) -> dict[str, np.ndarray]:
        nc = self.n_groups * self.n_kinds
        if not self._parts:
            return {c: np.zeros(0, np.float64 if c == "consumption_sum" else np.int64) for c in COLUMNS}
        key, n, s, a = (np.concatenate(x) for x in zip(*self._parts, strict=True))
        cell, inv = np.unique(key, return_inverse=True)  # a few thousand keys: the parts' cells
        readings = np.bincount(inv, weights=n, minlength=len(cell)).astype(np.int64)
        alarms = np.bincount(inv, weights=a, minlength=len(cell)).astype(np.int64)
        csum = np.bincount(inv, weights=s, minlength=len(cell))
        return {
            "hour": cell // nc,
            "group": cell % nc // self.n_kinds,
            "kind": cell % self.n_kinds,
            "consumption_sum": csum,
            "readings": readings,
            "devices_reporting": readings.copy(),
            "alarms": alarms,
        }
