"""Locator tests: hand-made polygons, no database."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon, box

from cityloop.org.locator import Area, LocatedBatch, Location, Locator, OutsideCity


def sq(x0, y0, x1, y1):
    return box(x0, y0, x1, y1)


def grid_areas(district_order=("D1", "D2")):
    """City [0,2]², districts = left/right columns, streets = 2×2 unit squares, one community."""
    districts = {
        "D1": Area("D1", "district", "C", sq(0, 0, 1, 2), name="West"),
        "D2": Area("D2", "district", "C", sq(1, 0, 2, 2), name="East"),
    }
    return [
        Area("C", "city", None, sq(0, 0, 2, 2), name="Testville"),
        *(districts[c] for c in district_order),
        Area("S00", "street", "D1", sq(0, 0, 1, 1)),
        Area("S01", "street", "D1", sq(0, 1, 1, 2)),
        Area("S10", "street", "D2", sq(1, 0, 2, 1)),
        Area("S11", "street", "D2", sq(1, 1, 2, 2)),
        Area("K1", "community", "S00", sq(0.2, 0.2, 0.6, 0.6)),
    ]


@pytest.fixture(scope="module")
def loc():
    return Locator(grid_areas())


@pytest.mark.parametrize(
    "pt, expected",
    [
        ((0.5, 1.5), ("D1", "S01", None)),
        ((1.5, 0.5), ("D2", "S10", None)),
        ((1.5, 1.5), ("D2", "S11", None)),
        ((0.9, 0.9), ("D1", "S00", None)),
        ((0.4, 0.4), ("D1", "S00", "K1")),
        ((0.2, 0.4), ("D1", "S00", "K1")),  # on the community's edge: polygons are closed
    ],
)
def test_inside(loc, pt, expected):
    assert loc.locate(*pt) == Location(*expected)


def test_shared_border_lowest_index_wins(loc):
    assert loc.locate(1.0, 0.5) == Location("D1", "S00", None)
    assert loc.locate(0.5, 1.0) == Location("D1", "S00", None)
    assert loc.locate(1.0, 1.0) == Location("D1", "S00", None)  # corner of all four streets
    assert loc.locate(1.0, 1.5) == Location("D1", "S01", None)
    assert loc.locate(1.5, 1.0) == Location("D2", "S10", None)


def test_district_border_follows_given_order():
    loc = Locator(grid_areas(district_order=("D2", "D1")), grid_cells=16)
    # with no streets covering the point, the district that was given first wins
    only_districts = Locator([a for a in grid_areas(("D2", "D1")) if a.level in ("city", "district")])
    assert only_districts.locate(1.0, 0.5) == Location("D2", None, None)
    # with streets, the street (S00 is first) decides and its parent district is reported
    assert loc.locate(1.0, 0.5) == Location("D1", "S00", None)


def test_outer_edge_is_inside(loc):
    assert loc.locate(0.0, 0.0) == Location("D1", "S00", None)
    assert loc.locate(2.0, 2.0) == Location("D2", "S11", None)


def test_outside_returns_none_and_explains(loc):
    assert loc.locate(3.0, 1.0) is None
    assert loc.locate(-0.001, 1.0) is None
    assert loc.locate(500.0, -90.0) is None
    msg = loc.describe_outside(3.0, 1.0)
    assert msg.startswith("point (3, 1) is outside Testville")
    km = 6371.0088 * math.pi / 180 * math.cos(math.radians(1.0))
    assert f"nearest district East is {km:.1f} km away" in msg
    with pytest.raises(OutsideCity) as exc:
        loc.locate_or_raise(3.0, 1.0)
    assert exc.value.nearest == "D2"
    assert exc.value.distance_km == pytest.approx(km, rel=1e-6)
    assert str(exc.value) == msg
    assert loc.locate_or_raise(0.5, 0.5) == Location("D1", "S00", "K1")


def test_nan_is_outside(loc):
    assert loc.locate(float("nan"), 1.0) is None
    b = loc.locate_many(np.array([np.nan, 0.5]), np.array([0.5, np.nan]))
    assert not b.inside.any()
    assert "not a valid" in loc.describe_outside(float("nan"), 1.0)


def test_consistency_prefers_parent_chain():
    # the street pokes out of its parent district into D2: report the parent district
    areas = [
        Area("D1", "district", None, sq(0, 0, 1, 1)),
        Area("D2", "district", None, sq(1, 0, 2, 1)),
        Area("S", "street", "D1", sq(0, 0, 1.2, 1)),
        Area("T", "street", "D2", sq(1.2, 0, 2, 1)),
        # a community whose geometry lies in T but whose parent is S
        Area("K", "community", "S", sq(1.5, 0.5, 1.6, 0.6)),
        # a street outside every district still locates (district from its parent)
        Area("X", "street", "D2", sq(5, 5, 6, 6)),
    ]
    loc = Locator(areas, grid_cells=32)
    assert loc.locate(1.1, 0.5) == Location("D1", "S", None)
    assert loc.locate(1.3, 0.5) == Location("D2", "T", None)
    assert loc.locate(1.55, 0.55) == Location("D1", "S", "K")
    assert loc.locate(5.5, 5.5) == Location("D2", "X", None)
    b = loc.locate_many(np.array([1.1, 1.3, 1.55, 5.5, 9.0]), np.array([0.5, 0.5, 0.55, 5.5, 9.0]))
    assert b.codes("district") == ["D1", "D2", "D1", "D2", None]
    assert b.codes("street") == ["S", "T", "S", "X", None]
    assert b.codes("community") == [None, None, "K", None, None]
    assert b.inside.tolist() == [True, True, True, True, False]


def test_multipolygon_with_hole():
    ring = Polygon([(10, 0), (14, 0), (14, 4), (10, 4)], holes=[[(11, 1), (13, 1), (13, 3), (11, 3)]])
    m = MultiPolygon([ring, sq(20, 0, 21, 1)])
    island = sq(11.5, 1.5, 12.5, 2.5)  # a second district inside the hole
    loc = Locator(
        [Area("M", "district", None, m, name="Holey"), Area("I", "district", None, island)], grid_cells=64
    )
    assert loc.locate(10.5, 2.0) == Location("M", None, None)
    assert loc.locate(20.5, 0.5) == Location("M", None, None)
    assert loc.locate(11.2, 2.0) is None  # in the hole
    assert loc.locate(11.0, 2.0) == Location("M", None, None)  # on the hole's edge
    assert loc.locate(12.0, 2.0) == Location("I", None, None)
    assert loc.locate(16.0, 0.5) is None  # between the parts, inside the bbox
    assert "nearest district Holey is" in loc.describe_outside(16.0, 0.5)
    assert "no districts" not in loc.describe_outside(16.0, 0.5)


def random_points(rng, n, lo, hi):
    x = rng.uniform(lo, hi, n)
    y = rng.uniform(lo, hi, n)
    # a quarter of the points snapped to a 1/8 lattice: lots of exact edges and corners
    k = n // 4
    x[:k] = np.round(x[:k] * 8) / 8
    y[:k] = np.round(y[:k] * 8) / 8
    return x, y


@pytest.mark.parametrize("cells", [1, 3, 16, 257])
def test_locate_many_matches_locate(cells):
    loc = Locator(grid_areas(), grid_cells=cells)
    rng = np.random.default_rng(cells)
    x, y = random_points(rng, 3000, -0.5, 2.5)
    b = loc.locate_many(x, y)
    assert isinstance(b, LocatedBatch)
    assert len(b) == 3000
    assert b.district.dtype == np.int32 and b.street.dtype == np.int32 and b.community.dtype == np.int32
    assert b.inside.dtype == bool
    assert b.district_codes == ["D1", "D2"]
    assert b.street_codes == ["S00", "S01", "S10", "S11"]
    assert b.community_codes == ["K1"]
    for i in range(len(x)):
        assert b.location(i) == loc.locate(x[i], y[i]), (x[i], y[i])
    # inside exactly when within the city square (closed)
    within = (x >= 0) & (x <= 2) & (y >= 0) & (y <= 2)
    assert (b.inside == within).all()


def star(cx, cy, r0, r1, n):
    a = np.linspace(0, 2 * np.pi, 2 * n, endpoint=False)
    r = np.where(np.arange(2 * n) % 2 == 0, r1, r0)
    return Polygon(np.c_[cx + r * np.cos(a), cy + r * np.sin(a)])


@pytest.mark.parametrize("cells", [5, 40, 300])
def test_grid_index_is_exact(cells):
    """The grid answer equals testing every polygon in order, on awkward shapes."""
    shapes = [
        star(0, 0, 0.3, 1.0, 37),
        star(0.8, 0.2, 0.2, 0.9, 11),  # overlaps the first: lowest index wins
        Polygon([(-2, -2), (2, -2), (2, -1.9), (-1.9, -1.9), (-1.9, 2), (-2, 2)]),  # thin L
        Polygon([(-1.5, 1.5), (1.7, -1.4), (1.71, -1.39), (-1.49, 1.51)]),  # long thin diagonal
        MultiPolygon([sq(1.2, 1.2, 1.5, 1.5), sq(1.6, 1.6, 1.9, 1.9)]),
    ]
    loc = Locator([Area(f"A{i}", "district", None, g) for i, g in enumerate(shapes)], grid_cells=cells)
    rng = np.random.default_rng(7)
    x, y = random_points(rng, 20000, -2.2, 2.2)
    got = loc.locate_raw("district", x, y)
    want = np.full(len(x), -1)
    for i in range(len(shapes) - 1, -1, -1):
        want[shapely.intersects_xy(shapes[i], x, y)] = i
    assert (got == want).all()
    # the vertices themselves lie on the boundaries
    vx, vy = shapely.get_coordinates(shapes).T
    got_v = loc.locate_raw("district", vx, vy)
    assert (got_v >= 0).all()


def test_empty_input(loc):
    b = loc.locate_many(np.array([]), np.array([]))
    assert len(b) == 0
    assert b.district.shape == b.street.shape == b.community.shape == b.inside.shape == (0,)
    assert b.district.dtype == np.int32


def test_mismatched_lengths(loc):
    with pytest.raises(ValueError):
        loc.locate_many(np.zeros(3), np.zeros(2))


def test_no_areas_at_a_level():
    loc = Locator([Area("D", "district", None, sq(0, 0, 1, 1))])
    assert loc.locate(0.5, 0.5) == Location("D", None, None)
    b = loc.locate_many([0.5, 2.0], [0.5, 2.0])
    assert b.street.tolist() == [-1, -1] and b.community.tolist() == [-1, -1]
    assert b.inside.tolist() == [True, False]
    empty = Locator([])
    assert empty.locate(0, 0) is None
    assert "no districts are defined" in empty.describe_outside(0, 0)
    assert "outside the city" in empty.describe_outside(0, 0)


def test_bad_areas():
    with pytest.raises(ValueError, match="unknown level"):
        Locator([Area("D", "county", None, sq(0, 0, 1, 1))])
    with pytest.raises(ValueError, match="duplicate"):
        Locator([Area("D", "district", None, sq(0, 0, 1, 1)), Area("D", "street", None, sq(0, 0, 1, 1))])


def test_from_geojson(tmp_path):
    feats = [
        {
            "type": "Feature",
            "properties": {"code": a.code, "name": a.name, "level": a.level, "parent": a.parent},
            "geometry": shapely.geometry.mapping(a.geometry),
        }
        for a in grid_areas()
    ]
    p = tmp_path / "j.geojson"
    p.write_text(json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False))
    loc = Locator.from_geojson(p)
    assert loc.locate(0.4, 0.4) == Location("D1", "S00", "K1")
    assert loc.locate(1.5, 1.5) == Location("D2", "S11", None)
    assert loc.city is not None and loc.city.code == "C"
    assert "outside Testville" in loc.describe_outside(-1, -1)


NYC_PACK = Path(__file__).resolve().parents[2] / "src/cityloop/org/packs/nyc/jurisdictions.geojson"


@pytest.mark.skipif(not NYC_PACK.exists(), reason="nyc pack not present")
def test_nyc_pack_landmarks():
    loc = Locator.from_geojson(NYC_PACK)
    assert loc.locate(-73.9857, 40.7484) == Location("MN", "MN05", None)  # Empire State Building
    assert loc.locate(-74.17, 40.73) is None  # Newark, NJ
    assert "outside New York City — nearest district" in loc.describe_outside(-74.17, 40.73)
    rng = np.random.default_rng(3)
    x, y = rng.uniform(-74.26, -73.7, 5000), rng.uniform(40.49, 40.92, 5000)
    b = loc.locate_many(x, y)
    for level in ("district", "street"):
        ix = loc._index[level]
        assert (loc.locate_raw(level, x, y) == ix.naive(x, y)).all()
    assert all(b.location(i) == loc.locate(x[i], y[i]) for i in range(500))
