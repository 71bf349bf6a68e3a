"""Locate lon/lat points to district, street (街乡) and community.

Pure Python + numpy + shapely 2; no Django imports, so the brain worker and the
benchmarks can use it without settings.

How it works
------------
Each level (district, street, community) gets its own :class:`_LevelIndex`: a regular
grid over the level's bounding box (square cells in degrees, one cell of margin on
every side).  Building it:

1. Every polygon ring is cut into pieces no longer than one cell and the cells each
   piece may touch are marked (conservatively, with a small tolerance), remembering
   which polygon's boundary touched the cell.  These are the *boundary cells*.
2. In every grid row the unmarked cells form runs; no polygon boundary crosses a run,
   so every point of a run is inside exactly the same set of polygons.  One
   point-in-polygon test of the first cell's centre classifies the whole run
   (polygon index, or -1 for "outside").
3. A boundary cell keeps a short candidate list: the polygons whose boundary touches
   it plus the polygons containing its centre (a polygon covering the whole cell
   without its boundary touching it must contain the centre).

A query is then one vectorised grid gather; only points that fall into boundary
cells are tested, grouped per polygon, with ``shapely.intersects_xy`` on prepared
geometries.

Semantics
---------
* Polygons are closed: a point on a polygon's edge is in it (``intersects_xy``).
* When several polygons of one level contain a point (shared borders, overlapping
  data) the one given first (lowest index) wins.  The grid is exact: it gives the
  same answer as testing every polygon in order.
* Each level is decided from geometry, then made consistent bottom-up: a point in a
  community reports that community's parent street (if the parent is a known
  street), and a point in a street reports that street's parent district.
* ``inside`` is true when the point lies in a district, a street or a community.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from shapely.geometry import shape

__all__ = [
    "Area",
    "LEVELS",
    "LocatedBatch",
    "Location",
    "Locator",
    "OutsideCity",
]

LEVELS = ("city", "district", "street", "community")
_LOCATED_LEVELS = ("district", "street", "community")

# Mean Earth radius; good enough for "the nearest district is 2.3 km away".
_KM_PER_DEG = 6371.0088 * math.pi / 180.0


@dataclass(frozen=True)
class Area:
    code: str
    level: str  # city | district | street | community
    parent: str | None
    geometry: Any  # shapely geometry (Polygon / MultiPolygon) in lon/lat
    name: str = ""  # optional, used in messages

    @property
    def label(self) -> str:
        return self.name or self.code


@dataclass(frozen=True)
class Location:
    district: str | None
    street: str | None
    community: str | None


@dataclass(frozen=True)
class LocatedBatch:
    """Result of :meth:`Locator.locate_many`; indices are -1 for none/outside."""

    district: np.ndarray  # int32
    street: np.ndarray  # int32
    community: np.ndarray  # int32
    inside: np.ndarray  # bool
    district_codes: list[str] = field(default_factory=list)
    street_codes: list[str] = field(default_factory=list)
    community_codes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.inside)

    def codes(self, level: str) -> list[str | None]:
        """The codes at ``level`` for every point (``None`` where there is none)."""
        idx = getattr(self, level)
        names = getattr(self, f"{level}_codes")
        lookup = np.array([*names, None], dtype=object)
        return lookup[idx].tolist()  # index -1 picks the trailing None

    def location(self, i: int) -> Location | None:
        if not self.inside[i]:
            return None

        def code(level: str) -> str | None:
            j = int(getattr(self, level)[i])
            return getattr(self, f"{level}_codes")[j] if j >= 0 else None

        return Location(code("district"), code("street"), code("community"))


class OutsideCity(ValueError):
    """Raised by :meth:`Locator.locate_or_raise` for a point outside every district."""

    def __init__(
        self,
        lon: float,
        lat: float,
        message: str,
        nearest: str | None = None,
        distance_km: float | None = None,
    ):
        super().__init__(message)
        self.lon = lon
        self.lat = lat
        self.nearest = nearest
        self.distance_km = distance_km


def _polygonal_geometry(geom: Any) -> Any:
    """Return ``geom`` prepared; invalid polygons are repaired, non-areal parts dropped."""
    if geom is None:
        return shapely.Polygon()
    if not shapely.is_valid(geom):
        geom = shapely.make_valid(geom)
        if geom.geom_type == "GeometryCollection":
            parts = [g for g in geom.geoms if g.geom_type in ("Polygon", "MultiPolygon")]
            geom = shapely.union_all(parts) if parts else shapely.Polygon()
    shapely.prepare(geom)
    return geom


def _hits(geoms: np.ndarray, xs: np.ndarray, ys: np.ndarray, pt: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """For candidate pairs (point ``pt[k]``, polygon ``poly[k]``): is the point in the polygon?

    Pairs are grouped per polygon so that each prepared polygon is called once.
    """
    out = np.zeros(len(pt), dtype=bool)
    if len(pt) == 0:
        return out
    order = np.argsort(poly, kind="stable")
    counts = np.bincount(poly, minlength=len(geoms))
    ends = np.cumsum(counts)
    sorted_pt = pt[order]
    for p in np.flatnonzero(counts):
        s, e = ends[p] - counts[p], ends[p]
        sel = sorted_pt[s:e]
        out[order[s:e]] = shapely.intersects_xy(geoms[p], xs[sel], ys[sel])
    return out


def _first_hit(n: int, pt: np.ndarray, poly: np.ndarray, hit: np.ndarray) -> np.ndarray:
    """Lowest polygon index hit per point (``pt`` sorted, ``poly`` ascending within a point)."""
    res = np.full(n, -1, dtype=np.int32)
    hp = pt[hit]
    if len(hp):
        first = np.empty(len(hp), dtype=bool)
        first[0] = True
        np.not_equal(hp[1:], hp[:-1], out=first[1:])
        res[hp[first]] = poly[hit][first]
    return res


class _LevelIndex:
    """Grid index over the polygons of one level (see module docstring)."""

    EPS = 1e-6  # tolerance, in cells, when marking boundary cells

    def __init__(self, geoms: Sequence[Any], cells: int = 1024):
        self.geoms = np.asarray(list(geoms) + [None], dtype=object)[:-1]
        self.n = len(self.geoms)
        self.nx = self.ny = 0
        self.grid = np.full(0, -1, dtype=np.int32)
        self.ptr = np.zeros(1, dtype=np.int64)
        self.cand = np.zeros(0, dtype=np.int32)
        if self.n == 0:
            return
        self.tree = shapely.STRtree(self.geoms)
        minx, miny, maxx, maxy = shapely.total_bounds(self.geoms)
        if not np.isfinite(minx):  # all empty
            return
        span = max(maxx - minx, maxy - miny, 1e-9)
        d = span / cells
        self.x0 = float(minx - d)
        self.y0 = float(miny - d)
        self.inv = 1.0 / d
        self.d = d
        self.nx = int(math.ceil((maxx - minx) / d)) + 2
        self.ny = int(math.ceil((maxy - miny) / d)) + 2
        self._build()

    # -- build -------------------------------------------------------------
    def _boundary_pairs(self) -> np.ndarray:
        """Sorted unique keys ``cell * n + polygon`` for cells touched by polygon boundaries."""
        parts = shapely.get_parts(shapely.boundary(self.geoms), return_index=True)
        lines, owner = parts
        coords, line_idx = shapely.get_coordinates(lines, return_index=True)
        if len(coords) < 2:
            return np.zeros(0, dtype=np.int64)
        same = line_idx[1:] == line_idx[:-1]
        t = np.empty_like(coords)
        t[:, 0] = (coords[:, 0] - self.x0) * self.inv
        t[:, 1] = (coords[:, 1] - self.y0) * self.inv
        a, b = t[:-1][same], t[1:][same]
        seg_poly = owner[line_idx[:-1][same]]
        # cut every segment into pieces spanning at most one cell
        npieces = np.maximum(np.ceil(np.abs(b - a).max(axis=1)), 1).astype(np.int64)
        seg = np.repeat(np.arange(len(a)), npieces)
        j = np.arange(len(seg)) - np.repeat(np.cumsum(npieces) - npieces, npieces)
        f0 = (j / npieces[seg])[:, None]
        f1 = ((j + 1) / npieces[seg])[:, None]
        da = b - a
        p0 = a[seg] + da[seg] * f0
        p1 = a[seg] + da[seg] * f1
        lo = np.floor(np.minimum(p0, p1) - self.EPS).astype(np.int64)
        hi = np.floor(np.maximum(p0, p1) + self.EPS).astype(np.int64)
        pp = seg_poly[seg].astype(np.int64)
        keys = []
        for ox in range(3):
            for oy in range(3):
                ix = lo[:, 0] + ox
                iy = lo[:, 1] + oy
                ok = (ix <= hi[:, 0]) & (iy <= hi[:, 1])
                keys.append((iy[ok] * self.nx + ix[ok]) * self.n + pp[ok])
        return np.unique(np.concatenate(keys))

    def _centres(self, cells: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        iy, ix = np.divmod(cells, self.nx)
        return self.x0 + (ix + 0.5) * self.d, self.y0 + (iy + 0.5) * self.d

    def _all_hits(self, xs: np.ndarray, ys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pt, poly = self.tree.query(shapely.points(xs, ys))
        order = np.lexsort((poly, pt))
        pt, poly = pt[order], poly[order]
        return pt, poly, _hits(self.geoms, xs, ys, pt, poly)

    def _build(self) -> None:
        n = self.n
        ncells = self.nx * self.ny
        keys = self._boundary_pairs()
        bcells = keys // n
        marked = np.zeros(ncells, dtype=bool)
        marked[bcells] = True
        grid = np.full(ncells, -1, dtype=np.int32)

        # 1. runs of unmarked cells along each row: one test per run
        free = ~marked.reshape(self.ny, self.nx)
        start = free.copy()
        start[:, 1:] &= ~free[:, :-1]
        start = start.ravel()
        free = free.ravel()
        run_cells = np.flatnonzero(start)
        if len(run_cells):
            xs, ys = self._centres(run_cells)
            pt, poly, hit = self._all_hits(xs, ys)
            run_val = _first_hit(len(run_cells), pt, poly.astype(np.int32), hit)
            run_id = np.cumsum(start) - 1
            grid[free] = run_val[run_id[free]]

        # 2. boundary cells: candidates = boundary owners + polygons containing the centre
        ucells = np.unique(bcells)
        if len(ucells):
            xs, ys = self._centres(ucells)
            pt, poly, hit = self._all_hits(xs, ys)
            extra = ucells[pt[hit]] * n + poly[hit]
            keys = np.union1d(keys, extra)
            kcell = keys // n
            kpoly = (keys % n).astype(np.int32)
            ucells, counts = np.unique(kcell, return_counts=True)
            self.ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
            self.cand = kpoly
            grid[ucells] = -2 - np.arange(len(ucells), dtype=np.int32)
        self.grid = grid
        self.n_boundary_cells = len(ucells)

    # -- query -------------------------------------------------------------
    def lookup(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Index of the (lowest) polygon containing each point, -1 if none."""
        m = len(lon)
        if self.nx == 0 or m == 0:
            return np.full(m, -1, dtype=np.int32)
        fx = lon - self.x0
        fx *= self.inv
        fy = lat - self.y0
        fy *= self.inv
        # NaN compares False, so NaN points are "outside"
        valid = (fx >= 0) & (fx < self.nx) & (fy >= 0) & (fy < self.ny)
        if valid.all():
            cell = fy.astype(np.intp)
            cell *= self.nx
            cell += fx.astype(np.intp)
            res = self.grid[cell]
        else:
            np.copyto(fx, 0, where=~valid)
            np.copyto(fy, 0, where=~valid)
            cell = fy.astype(np.intp)
            cell *= self.nx
            cell += fx.astype(np.intp)
            res = self.grid[cell]
            res[~valid] = -1
        bpt = np.flatnonzero(res <= -2)
        if len(bpt):
            res[bpt] = self._resolve(lon, lat, bpt, -2 - res[bpt])
        return res

    def _resolve(self, lon: np.ndarray, lat: np.ndarray, bpt: np.ndarray, bcell: np.ndarray) -> np.ndarray:
        starts = self.ptr[bcell]
        cnt = self.ptr[bcell + 1] - starts
        total = int(cnt.sum())
        pt = np.repeat(np.arange(len(bpt)), cnt)
        offs = np.arange(total) - np.repeat(np.cumsum(cnt) - cnt, cnt)
        poly = self.cand[np.repeat(starts, cnt) + offs]
        xs, ys = lon[bpt], lat[bpt]
        hit = _hits(self.geoms, xs, ys, pt, poly)
        return _first_hit(len(bpt), pt, poly, hit)

    def lookup_one(self, lon: float, lat: float) -> int:
        if self.nx == 0:
            return -1
        fx = (lon - self.x0) * self.inv
        fy = (lat - self.y0) * self.inv
        if not (0 <= fx < self.nx and 0 <= fy < self.ny):
            return -1
        v = int(self.grid[int(fy) * self.nx + int(fx)])
        if v > -2:
            return v
        b = -2 - v
        for p in self.cand[self.ptr[b] : self.ptr[b + 1]]:
            if shapely.intersects_xy(self.geoms[p], lon, lat):
                return int(p)
        return -1

    def naive(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Reference answer: test every polygon in order (slow; for checks)."""
        res = np.full(len(lon), -1, dtype=np.int32)
        for p in range(self.n - 1, -1, -1):  # reverse, so the lowest index wins
            res[shapely.intersects_xy(self.geoms[p], lon, lat)] = p
        return res


class Locator:
    """lon/lat → district, street, community (codes); see the module docstring."""

    def __init__(self, areas: Iterable[Area], *, grid_cells: int = 1024):
        areas = list(areas)
        self.areas: dict[str, Area] = {}
        by_level: dict[str, list[Area]] = {lvl: [] for lvl in LEVELS}
        for a in areas:
            if a.level not in by_level:
                raise ValueError(f"area {a.code!r}: unknown level {a.level!r} (expected one of {LEVELS})")
            if a.code in self.areas:
                raise ValueError(f"duplicate area code {a.code!r}")
            self.areas[a.code] = a
            by_level[a.level].append(a)
        self.city: Area | None = by_level["city"][0] if by_level["city"] else None
        self._level_areas = by_level
        self.codes: dict[str, list[str]] = {lvl: [a.code for a in by_level[lvl]] for lvl in _LOCATED_LEVELS}
        self._pos: dict[str, dict[str, int]] = {
            lvl: {c: i for i, c in enumerate(self.codes[lvl])} for lvl in _LOCATED_LEVELS
        }
        self._index: dict[str, _LevelIndex] = {
            lvl: _LevelIndex([_polygonal_geometry(a.geometry) for a in by_level[lvl]], grid_cells)
            for lvl in _LOCATED_LEVELS
        }

        def parents(level: str, parent_level: str) -> np.ndarray:
            pos = self._pos[parent_level]
            return np.array(
                [pos.get(a.parent, -1) if a.parent else -1 for a in by_level[level]] + [-1], dtype=np.int32
            )

        # trailing -1 so that index -1 ("none") maps to -1
        self._street_district = parents("street", "district")
        self._community_street = parents("community", "street")
        self._community_district = parents("community", "district")
        # a community whose parent is a street inherits that street's district
        cs = self._community_street[:-1]
        via = np.where(cs >= 0, self._street_district[cs], -1)
        self._community_district[:-1] = np.where(via >= 0, via, self._community_district[:-1])

    # -- construction --------------------------------------------------------
    @classmethod
    def from_geojson(cls, path: str | os.PathLike, **kwargs: Any) -> Locator:
        with open(path, "rb") as fh:
            data = json.load(fh)
        return cls(areas_from_geojson(data), **kwargs)

    # -- queries ---------------------------------------------------------------
    def locate(self, lon: float, lat: float) -> Location | None:
        lon, lat = float(lon), float(lat)
        d = self._index["district"].lookup_one(lon, lat)
        s = self._index["street"].lookup_one(lon, lat)
        c = self._index["community"].lookup_one(lon, lat)
        if c >= 0:
            if self._community_street[c] >= 0:
                s = int(self._community_street[c])
            if self._community_district[c] >= 0:
                d = int(self._community_district[c])
        if s >= 0 and self._street_district[s] >= 0:
            d = int(self._street_district[s])
        if d < 0 and s < 0 and c < 0:
            return None
        return Location(
            self.codes["district"][d] if d >= 0 else None,
            self.codes["street"][s] if s >= 0 else None,
            self.codes["community"][c] if c >= 0 else None,
        )

    def locate_or_raise(self, lon: float, lat: float) -> Location:
        loc = self.locate(lon, lat)
        if loc is None:
            raise self.outside_error(lon, lat)
        return loc

    def locate_raw(self, level: str, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """Geometry-only index at one level (no parent consistency); -1 = none."""
        lon, lat = _as_float_arrays(lon, lat)
        return self._index[level].lookup(lon, lat)

    def locate_many(self, lon: np.ndarray, lat: np.ndarray) -> LocatedBatch:
        lon, lat = _as_float_arrays(lon, lat)
        d = self._index["district"].lookup(lon, lat)
        s = self._index["street"].lookup(lon, lat)
        c = self._index["community"].lookup(lon, lat)
        if self._index["community"].n:
            cs = self._community_street[c]
            s = np.where(cs >= 0, cs, s)
            cd = self._community_district[c]
            d = np.where(cd >= 0, cd, d)
        if self._index["street"].n:
            sd = self._street_district[s]
            d = np.where(sd >= 0, sd, d)
        inside = d >= 0
        if self._index["street"].n:
            inside |= s >= 0
        if self._index["community"].n:
            inside |= c >= 0
        return LocatedBatch(
            district=d.astype(np.int32, copy=False),
            street=s.astype(np.int32, copy=False),
            community=c.astype(np.int32, copy=False),
            inside=inside,
            district_codes=list(self.codes["district"]),
            street_codes=list(self.codes["street"]),
            community_codes=list(self.codes["community"]),
        )

    # -- outside -------------------------------------------------------------
    def nearest_district(self, lon: float, lat: float) -> tuple[str | None, float | None]:
        """Code of the nearest district and its distance in km (local equirectangular)."""
        best, best_km = None, None
        kx = _KM_PER_DEG * math.cos(math.radians(lat))
        for a, g in zip(self._level_areas["district"], self._index["district"].geoms, strict=True):
            if g is None or g.is_empty:
                continue
            local = shapely.transform(g, lambda c: (c - (lon, lat)) * (kx, _KM_PER_DEG))
            km = float(shapely.distance(local, shapely.Point(0, 0)))
            if best_km is None or km < best_km:
                best, best_km = a.code, km
        return best, best_km

    def describe_outside(self, lon: float, lat: float) -> str:
        return self.outside_error(lon, lat).args[0]

    def outside_error(self, lon: float, lat: float) -> OutsideCity:
        city = self.city.label if self.city else "the city"
        where = f"point ({lon:g}, {lat:g})"
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return OutsideCity(lon, lat, f"{where} is not a valid longitude/latitude")
        code, km = self.nearest_district(lon, lat)
        if code is None:
            return OutsideCity(lon, lat, f"{where} is outside {city} — no districts are defined")
        name = self.areas[code].label
        return OutsideCity(
            lon,
            lat,
            f"{where} is outside {city} — nearest district {name} is {km:.1f} km away",
            nearest=code,
            distance_km=km,
        )

    def stats(self) -> dict[str, dict[str, int]]:
        return {
            lvl: {
                "areas": ix.n,
                "nx": ix.nx,
                "ny": ix.ny,
                "boundary_cells": int(getattr(ix, "n_boundary_cells", 0)),
            }
            for lvl, ix in self._index.items()
        }


def _as_float_arrays(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    lon = np.ascontiguousarray(lon, dtype=np.float64).ravel()
    lat = np.ascontiguousarray(lat, dtype=np.float64).ravel()
    if lon.shape != lat.shape:
        raise ValueError(f"lon and lat differ in length ({len(lon)} != {len(lat)})")
    return lon, lat


def areas_from_geojson(data: dict) -> list[Area]:
    """Areas from a FeatureCollection with properties code, level, parent (name optional)."""
    if data.get("type") != "FeatureCollection":
        raise ValueError("expected a GeoJSON FeatureCollection")
    out = []
    for i, feat in enumerate(data.get("features", [])):
        props = feat.get("properties") or {}
        try:
            code, level = str(props["code"]), props["level"]
        except KeyError as e:
            raise ValueError(f"feature {i}: missing property {e.args[0]!r}") from None
        geom = feat.get("geometry")
        out.append(
            Area(
                code=code,
                level=level,
                parent=str(props["parent"]) if props.get("parent") not in (None, "") else None,
                geometry=shape(geom) if geom else shapely.Polygon(),
                name=props.get("name") or "",
            )
        )
    return out
