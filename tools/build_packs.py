#!/usr/bin/env python3
"""Build the city packs that ship inside CityLoop (``src/cityloop/org/packs``).

Usage::

    python tools/build_packs.py --data /work/shared/data --out src/cityloop/org/packs

Reproducible: the output depends only on the input data, the versions of shapely/GEOS and
pypinyin, and fixed seeds. Running it twice gives byte-identical files. The pack format is
described in ``src/cityloop/org/packs/README.md``.

Builder-only dependencies: shapely >= 2.1 (coverage_simplify, voronoi_polygons(ordered=True)),
numpy, pyyaml, pypinyin (for the English names of Beijing's streets; pass ``--no-pinyin`` to
build without it, which gives name_en == name for the streets and therefore different output).
"""

from __future__ import annotations

import argparse
import collections
import csv
import io
import json
import math
import re
import sys
import zlib
from pathlib import Path

import numpy as np
import shapely
import yaml
from shapely.geometry import MultiPolygon, Polygon, mapping, shape

PRECISION = 1e-5  # grid for all output coordinates (5 decimals of a degree, ~1 m)
REPAIR_MARGIN = 1.5e-5  # see clip_inside


# --------------------------------------------------------------------------------------
# geometry helpers
# --------------------------------------------------------------------------------------


def polygonal(geom):
    """Return only the polygonal part of ``geom`` (Polygon/MultiPolygon), made valid."""
    if geom is None or geom.is_empty:
        return Polygon()
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    if isinstance(geom, (Polygon, MultiPolygon)):
        return geom
    parts = []
    for g in getattr(geom, "geoms", []):
        g = polygonal(g)
        if isinstance(g, Polygon) and not g.is_empty:
            parts.append(g)
        elif isinstance(g, MultiPolygon):
            parts.extend(g.geoms)
    if not parts:
        return Polygon()
    return shapely.union_all(parts) if len(parts) > 1 else parts[0]


def snap(geom):
    """Snap to the 1e-5 degree output grid, keeping the result valid and polygonal."""
    g = shapely.set_precision(geom, PRECISION)
    # set_precision attaches a fixed precision model that later overlays silently use (which
    # hides slivers that reappear once the coordinates are read back): drop it.
    g = shapely.from_wkb(shapely.to_wkb(g))
    return polygonal(g)


def drop_slivers(geom, min_area):
    """Drop polygon parts smaller than ``min_area`` (square degrees) unless it is the only one."""
    if isinstance(geom, MultiPolygon):
        parts = sorted(geom.geoms, key=lambda p: -p.area)
        keep = [p for p in parts if p.area >= min_area] or parts[:1]
        return keep[0] if len(keep) == 1 else MultiPolygon(keep)
    return geom


def clip_inside(geom, container):
    """``geom`` ∩ ``container`` on the output grid, guaranteed to lie inside ``container``.

    Rounding to the 1e-5 grid moves a vertex by up to 0.71e-5 degrees, so a vertex created
    where ``geom`` crosses the container's edge can land just outside. Wherever that
    happens, cut the sticking-out sliver plus a small margin away and round again; as a
    last resort clip to the container minus a 1.5e-5 degree band along its edge, which
    survives rounding. (A negative buffer is not used: GEOS mishandles holes that touch
    the shell.)
    """
    g = snap(polygonal(geom.intersection(container)))
    for i in range(1, 6):
        bad = g.difference(container)
        if bad.area == 0:
            return g
        g = snap(polygonal(g.difference(bad.buffer(i * REPAIR_MARGIN, quad_segs=4))))
    inset = container.difference(container.boundary.buffer(REPAIR_MARGIN, quad_segs=4))
    g = snap(polygonal(g.intersection(inset)))
    assert g.difference(container).area == 0, "could not clip geometry inside its container"
    return g


def partition(container, geoms):
    """Cut ``container`` by ``geoms`` on the output grid.

    Returns ``(container', pieces)``: ``pieces[i]`` is the part of the container covered by
    ``geoms[i]`` (or by the lowest such ``i`` where geoms overlap) and ``container'`` is the
    container itself, both made of the same faces: the boundaries of the container and of
    all geoms are noded together with snap-rounding on the 1e-5 grid and polygonized, and
    every face inside the container goes to the piece whose geom covers most of it. As
    container and pieces share their vertices exactly, every piece lies inside the
    container also after rounding (clipping each geom separately and rounding would leave
    sub-metre slivers outside). The container moves by at most one grid cell.
    """
    area_min = PRECISION**2 * 1e-3
    envelope = container.envelope.buffer(10 * PRECISION)
    lines = [container.boundary] + [g.intersection(envelope).boundary for g in geoms]
    net = shapely.union_all(lines, grid_size=PRECISION)
    faces = [f for f in shapely.get_parts(shapely.polygonize(shapely.get_parts(net))) if f.area > area_min]
    tree = shapely.STRtree(list(geoms))
    kept, owner = [], []
    for f in faces:
        if not container.contains(f.point_on_surface()):
            continue
        best, best_area = None, 0.0
        for i in sorted(int(j) for j in tree.query(f)):
            a = geoms[i].intersection(f).area
            if a > best_area * (1 + 1e-9):
                best, best_area = i, a
        if best is not None and best_area < 0.5 * f.area:
            best = None
        kept.append(f)
        owner.append(best)
    whole = snap(shapely.union_all(kept))
    pieces = []
    for i in range(len(geoms)):
        mine = [f for f, o in zip(kept, owner, strict=True) if o == i]
        p = snap(shapely.union_all(mine)) if mine else Polygon()
        if not p.is_empty and p.difference(whole).area > 0:
            p = clip_inside(p, whole)
        pieces.append(p)
    return whole, pieces


def round_coords(obj):
    if isinstance(obj, (list, tuple)):
        if obj and isinstance(obj[0], (int, float)):
            return [round(float(obj[0]), 5), round(float(obj[1]), 5)]
        return [round_coords(o) for o in obj]
    return obj


def geojson_geometry(geom):
    geom = shapely.orient_polygons(geom, exterior_cw=False)  # RFC 7946 right-hand rule
    m = mapping(geom)
    return {"type": m["type"], "coordinates": round_coords(m["coordinates"])}


def write_geojson(path: Path, features):
    """One feature per line: compact yet diffable."""
    lines = ['{"type":"FeatureCollection","features":[']
    for i, (props, geom) in enumerate(features):
        f = {"type": "Feature", "properties": props, "geometry": geojson_geometry(geom)}
        s = json.dumps(f, ensure_ascii=False, separators=(",", ":"))
        lines.append(s + ("," if i < len(features) - 1 else ""))
    lines.append("]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_csv(path: Path, header, rows):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow(["" if v is None else v for v in r])
    path.write_text(buf.getvalue(), encoding="utf-8")


def write_yaml(path: Path, data):
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100), encoding="utf-8")


def read_csv(path: Path):
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


# --------------------------------------------------------------------------------------
# checks shared by both packs
# --------------------------------------------------------------------------------------


def check_pack(out: Path, expect_counts: dict[str, int]):
    """Validate a written pack; raise AssertionError on any problem. Returns a summary."""
    pack = yaml.safe_load((out / "pack.yaml").read_text(encoding="utf-8"))
    for key in (
        "code",
        "name",
        "name_en",
        "country",
        "timezone",
        "calendar",
        "default_language",
        "synthetic_shapes",
        "notes",
        "sources",
    ):
        assert key in pack, f"pack.yaml lacks {key}"

    fc = json.loads((out / "jurisdictions.geojson").read_text(encoding="utf-8"))
    feats = fc["features"]
    codes = [f["properties"]["code"] for f in feats]
    assert len(codes) == len(set(codes)), "duplicate jurisdiction codes"
    levels = [f["properties"]["level"] for f in feats]
    order = {"city": 0, "district": 1, "street": 2, "community": 3}
    assert levels == sorted(levels, key=order.__getitem__), "features not ordered by level"
    counts = collections.Counter(levels)
    assert dict(counts) == expect_counts, f"counts {dict(counts)} != {expect_counts}"
    geoms = {}
    for f in feats:
        p = f["properties"]
        g = shape(f["geometry"])
        assert f["geometry"]["type"] in ("Polygon", "MultiPolygon"), p["code"]
        assert g.is_valid and not g.is_empty, f"invalid/empty geometry {p['code']}"
        geoms[p["code"]] = g
        if p["level"] == "city":
            assert p["parent"] is None
        else:
            assert p["parent"] in geoms, f"{p['code']}: parent {p['parent']} missing/later"
    worst = 0.0
    for f in feats:
        p = f["properties"]
        if p["level"] == "street":
            g, d = geoms[p["code"]], geoms[p["parent"]]
            outside = g.difference(d).area / g.area
            worst = max(worst, outside)
            assert outside == 0, f"street {p['code']} sticks out of {p['parent']}: {outside}"

    deps = read_csv(out / "departments.csv")
    dcodes = [d["code"] for d in deps]
    assert len(dcodes) == len(set(dcodes)), "duplicate department codes"
    for d in deps:
        assert d["level"] in ("city", "district")
        if d["level"] == "district":
            assert d["district"] in geoms, d
        else:
            assert d["district"] == "", d

    cats = read_csv(out / "categories.csv")
    ccodes = [c["code"] for c in cats]
    assert len(ccodes) == len(set(ccodes)), "duplicate category codes"
    assert all(c.isascii() for c in ccodes)
    parent = {c["code"]: c["parent"] or None for c in cats}
    for code, par in parent.items():
        depth = 1
        while par:
            assert par in parent, f"category {code}: unknown parent {par}"
            par = parent[par]
            depth += 1
        assert depth <= 3, f"category {code} deeper than 3"
    has_child = {p for p in parent.values() if p}
    leaves = [c for c in ccodes if c not in has_child]

    resp = read_csv(out / "responsibilities.csv")
    covered = set()
    for r in resp:
        assert r["category"] in parent, r
        assert r["department"] in dcodes, r
        assert r["route"] in ("direct", "street"), r
        covered.add(r["category"])
    uncovered = []
    for leaf in leaves:
        c = leaf
        while c and c not in covered:
            c = parent[c]
        if not c:
            uncovered.append(leaf)
    assert not uncovered, f"leaf categories without a responsible department: {uncovered}"

    gaz_n = 0
    if (out / "gazetteer.csv").exists():
        gaz = read_csv(out / "gazetteer.csv")
        names = [g["name"].casefold() for g in gaz]
        assert len(names) == len(set(names)), "duplicate gazetteer names"
        for g in gaz:
            assert g["jurisdiction"] in geoms, g
        gaz_n = len(gaz)

    size = sum(p.stat().st_size for p in out.iterdir() if p.is_file())
    return {
        "features": dict(counts),
        "departments": len(deps),
        "categories": len(cats),
        "leaves": len(leaves),
        "responsibilities": len(resp),
        "gazetteer": gaz_n,
        "worst_street_outside_ratio": worst,
        "bytes": size,
    }


# --------------------------------------------------------------------------------------
# NYC
# --------------------------------------------------------------------------------------

NYC_BOROUGHS = {  # BoroCode -> (code, name)
    1: ("MN", "Manhattan"),
    2: ("BX", "Bronx"),
    3: ("BK", "Brooklyn"),
    4: ("QN", "Queens"),
    5: ("SI", "Staten Island"),
}
NYC_BORO_ALIASES = {
    "MN": ["Manhattan", "New York County"],
    "BX": ["Bronx", "The Bronx", "Bronx County"],
    "BK": ["Brooklyn", "Kings County"],
    "QN": ["Queens", "Queens County"],
    "SI": ["Staten Island", "Richmond County"],
}
# The 311 data names some agencies after the sub-unit that took the request (e.g. a DSNY
# district garage). Departments are agencies, so these get their agency's proper name.
NYC_AGENCY_NAMES = {
    "DSNY": "Department of Sanitation",
    "DOF": "Department of Finance",
    "FDNY": "Fire Department of the City of New York",
    "HRA": "Human Resources Administration",
}
# Hand-curated, well-known neighbourhood and landmark names (unambiguous ones only).
# Landmarks that lie outside every community district (parks, airports: "joint interest
# areas") point at their borough.
NYC_PLACES = {
    "MN01": ["Financial District", "Tribeca", "Battery Park City"],
    "MN02": ["Greenwich Village", "West Village", "SoHo"],
    "MN03": ["Lower East Side", "East Village", "Chinatown"],
    "MN04": ["Chelsea", "Hell's Kitchen", "Clinton"],
    "MN05": ["Midtown"],
    "MN06": ["Murray Hill", "Kips Bay", "Turtle Bay", "Stuyvesant Town"],
    "MN07": ["Upper West Side"],
    "MN08": ["Upper East Side", "Yorkville", "Roosevelt Island"],
    "MN09": ["Morningside Heights", "Hamilton Heights", "Manhattanville"],
    "MN10": ["Central Harlem"],
    "MN11": ["East Harlem"],
    "MN12": ["Washington Heights", "Inwood"],
    "BX01": ["Mott Haven", "Port Morris"],
    "BX02": ["Hunts Point", "Longwood"],
    "BX03": ["Morrisania"],
    "BX04": ["Highbridge"],
    "BX05": ["Fordham", "Morris Heights"],
    "BX06": ["Belmont", "East Tremont"],
    "BX07": ["Bedford Park", "Norwood"],
    "BX08": ["Riverdale", "Spuyten Duyvil"],
    "BX09": ["Parkchester", "Soundview", "Castle Hill"],
    "BX10": ["Throgs Neck", "City Island", "Co-op City"],
    "BX11": ["Morris Park", "Pelham Parkway"],
    "BX12": ["Williamsbridge", "Wakefield"],
    "BK01": ["Williamsburg", "Greenpoint"],
    "BK02": ["Downtown Brooklyn", "Brooklyn Heights", "DUMBO", "Fort Greene"],
    "BK03": ["Bedford-Stuyvesant", "Bed-Stuy"],
    "BK04": ["Bushwick"],
    "BK05": ["East New York", "Cypress Hills"],
    "BK06": ["Park Slope", "Carroll Gardens", "Red Hook", "Cobble Hill"],
    "BK07": ["Sunset Park", "Windsor Terrace"],
    "BK08": ["Prospect Heights"],
    "BK10": ["Bay Ridge", "Dyker Heights"],
    "BK11": ["Bensonhurst", "Bath Beach"],
    "BK12": ["Borough Park"],
    "BK13": ["Coney Island", "Brighton Beach"],
    "BK14": ["Midwood"],
    "BK15": ["Sheepshead Bay", "Manhattan Beach"],
    "BK16": ["Brownsville", "Ocean Hill"],
    "BK17": ["East Flatbush"],
    "BK18": ["Canarsie", "Mill Basin", "Marine Park"],
    "QN01": ["Astoria", "Long Island City"],
    "QN02": ["Sunnyside", "Woodside"],
    "QN03": ["Jackson Heights", "East Elmhurst"],
    "QN04": ["Elmhurst", "Corona"],
    "QN05": ["Ridgewood", "Maspeth", "Middle Village", "Glendale"],
    "QN06": ["Forest Hills", "Rego Park"],
    "QN07": ["Flushing", "Whitestone", "College Point"],
    "QN08": ["Fresh Meadows", "Jamaica Estates"],
    "QN09": ["Richmond Hill", "Woodhaven", "Kew Gardens"],
    "QN10": ["Ozone Park", "Howard Beach"],
    "QN11": ["Bayside", "Douglaston", "Little Neck"],
    "QN12": ["Jamaica", "Hollis", "St. Albans"],
    "QN13": ["Queens Village", "Laurelton", "Rosedale"],
    "QN14": ["Far Rockaway", "Rockaway", "Broad Channel"],
    "SI01": ["St. George", "Port Richmond"],
    "SI03": ["Tottenville", "Great Kills"],
    "MN": ["Central Park"],
    "BK": ["Prospect Park"],
    "QN": ["JFK Airport", "LaGuardia Airport", "Flushing Meadows-Corona Park"],
    "BX": ["Van Cortlandt Park", "Pelham Bay Park"],
}


def build_nyc(data: Path, out: Path, tolerance: float):
    out.mkdir(parents=True, exist_ok=True)
    bdir = data / "boundaries" / "nyc"
    boros = json.loads((bdir / "boroughs.geojson").read_text())["features"]
    cds = json.loads((bdir / "community_districts.geojson").read_text())["features"]

    boro_geoms = {}
    for f in boros:
        code, _ = NYC_BOROUGHS[int(f["properties"]["BoroCode"])]
        boro_geoms[code] = polygonal(shape(f["geometry"]))
    boro_codes = [NYC_BOROUGHS[k][0] for k in sorted(NYC_BOROUGHS)]

    cd_geoms = {}
    for f in cds:
        borocd = int(f["properties"]["BoroCD"])
        boro, num = divmod(borocd, 100)
        if num > 18:  # joint interest areas (large parks, airports), not community districts
            continue
        code = f"{NYC_BOROUGHS[boro][0]}{num:02d}"
        assert code not in cd_geoms
        cd_geoms[code] = polygonal(shape(f["geometry"]))
    assert len(cd_geoms) == 59, len(cd_geoms)
    cd_codes = sorted(cd_geoms, key=lambda c: (boro_codes.index(c[:2]), c))

    # Coverage simplification keeps shared edges shared (no gaps/overlaps between neighbours).
    simple_b = shapely.coverage_simplify([boro_geoms[c] for c in boro_codes], tolerance)
    min_area = (tolerance * 2) ** 2  # drop tiny islets that simplification reduces to specks
    boro_final = {}
    for c, g in zip(boro_codes, simple_b, strict=True):
        boro_final[c] = snap(drop_slivers(polygonal(g), min_area))
    simple_cd = shapely.coverage_simplify([cd_geoms[c] for c in cd_codes], tolerance)
    simple_cd = dict(zip(cd_codes, simple_cd, strict=True))
    cd_final = {}
    for b in boro_codes:
        codes = [c for c in cd_codes if c[:2] == b]
        boro_final[b], pieces = partition(
            boro_final[b], [drop_slivers(polygonal(simple_cd[c]), min_area) for c in codes]
        )
        for c, g in zip(codes, pieces, strict=True):
            g = drop_slivers(g, min_area)
            assert not g.is_empty and g.is_valid, c
            cd_final[c] = g
    city = snap(shapely.union_all(list(boro_final.values())))

    features = [
        (
            {
                "code": "NYC",
                "name": "New York City",
                "name_en": "New York City",
                "level": "city",
                "parent": None,
            },
            city,
        )
    ]
    for c in boro_codes:
        name = dict(NYC_BOROUGHS.values())[c]
        features.append(
            ({"code": c, "name": name, "name_en": name, "level": "district", "parent": "NYC"}, boro_final[c])
        )
    boro_name = dict(NYC_BOROUGHS.values())
    for c in cd_codes:
        name = f"{boro_name[c[:2]]} Community District {int(c[2:])}"
        features.append(
            ({"code": c, "name": name, "name_en": name, "level": "street", "parent": c[:2]}, cd_final[c])
        )
    write_geojson(out / "jurisdictions.geojson", features)

    # ---- 311 data: departments, categories, responsibilities
    rows = read_csv(data / "nyc311" / "nyc311_combined.csv")
    agency_names = collections.defaultdict(collections.Counter)
    for r in rows:
        agency_names[r["agency"]][r["agency_name"]] += 1
    agency_count = collections.Counter(r["agency"] for r in rows)

    def agency_name(a):
        if a in NYC_AGENCY_NAMES:
            return NYC_AGENCY_NAMES[a]
        return sorted(agency_names[a].items(), key=lambda kv: (-kv[1], kv[0]))[0][0]

    agencies = sorted(agency_count, key=lambda a: (-agency_count[a], a))
    write_csv(
        out / "departments.csv",
        ["code", "name", "name_en", "level", "district"],
        [(a, agency_name(a), agency_name(a), "city", "") for a in agencies],
    )

    type_count = collections.Counter(r["complaint_type"] for r in rows if r["complaint_type"])
    type_agency = {}
    for t in type_count:
        c = collections.Counter(r["agency"] for r in rows if r["complaint_type"] == t)
        type_agency[t] = sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    desc_count = collections.Counter(
        (r["complaint_type"], r["descriptor"].strip())
        for r in rows
        if r["complaint_type"] and r["descriptor"].strip()
    )
    cat_rows, resp_rows = [], []
    groups = [a for a in agencies if a in type_agency.values()]
    for i, a in enumerate(groups, 1):
        c1 = f"{i:02d}"
        nm = f"{agency_name(a)} ({a})"
        cat_rows.append((c1, nm, nm, ""))
        resp_rows.append((c1, a, "direct"))
        types = sorted((t for t in type_agency if type_agency[t] == a), key=lambda t: (-type_count[t], t))
        for j, t in enumerate(types, 1):
            c2 = f"{c1}.{j:02d}"
            cat_rows.append((c2, t, t, c1))
            resp_rows.append((c2, a, "direct"))
            descs = sorted(
                (d for (tt, d), n in desc_count.items() if tt == t and n >= 3),
                key=lambda d: (-desc_count[(t, d)], d),
            )
            for k, d in enumerate(descs, 1):
                cat_rows.append((f"{c2}.{k:02d}", d, d, c2))
    write_csv(out / "categories.csv", ["code", "name", "name_en", "parent"], cat_rows)
    write_csv(out / "responsibilities.csv", ["category", "department", "route"], resp_rows)

    # ---- gazetteer
    gaz = [("New York City", "NYC"), ("NYC", "NYC"), ("New York, NY", "NYC")]
    for c in boro_codes:
        gaz += [(n, c) for n in NYC_BORO_ALIASES[c]]
    for c in cd_codes:
        b = boro_name[c[:2]]
        gaz.append((f"{b} Community Board {int(c[2:])}", c))
        gaz.append((f"{c[2:]} {b.upper()}", c))  # the 311 `community_board` format
    for code in list(cd_codes) + boro_codes:
        gaz += [(n, code) for n in NYC_PLACES.get(code, [])]
    # ZIP -> community district by majority of geolocated 311 requests.
    tree_codes = cd_codes
    tree_geoms = [cd_final[c] for c in tree_codes]
    tree = shapely.STRtree(tree_geoms)
    zip_votes = collections.defaultdict(collections.Counter)
    for r in rows:
        z = r["incident_zip"].strip()[:5]
        if not re.fullmatch(r"\d{5}", z) or not r["latitude"] or not r["longitude"]:
            continue
        pt = shapely.Point(float(r["longitude"]), float(r["latitude"]))
        hits = tree.query(pt, predicate="within")
        if len(hits):
            zip_votes[z][tree_codes[int(min(hits))]] += 1
    for z in sorted(zip_votes):
        best = sorted(zip_votes[z].items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
        gaz.append((z, best))
    write_csv(out / "gazetteer.csv", ["name", "jurisdiction"], gaz)

    write_yaml(
        out / "pack.yaml",
        {
            "code": "nyc",
            "name": "New York City",
            "name_en": "New York City",
            "country": "US",
            "timezone": "America/New_York",
            "calendar": "weekday",
            "default_language": "en",
            "synthetic_shapes": False,
            "notes": (
                "Jurisdictions: the city (union of the boroughs), the 5 boroughs as districts and "
                "the 59 community districts as the 'street' level (joint interest areas such as "
                "large parks and airports are not community districts and are left out, so they "
                "fall inside a borough but outside every street). Shapes are NYC Department of "
                "City Planning boundaries, coverage-simplified (tolerance "
                f"{tolerance} degrees) and clipped so each community district lies inside its "
                "borough. Departments, categories and responsibilities are derived from 3,310 real "
                "311 requests (two days only: 2013-12-25 and 2022-05-01), so rarer complaint types "
                "are missing; level 1 of the category tree groups complaint types by the agency "
                "that handled them, level 2 is the 311 complaint type, level 3 the descriptors seen "
                "at least 3 times. ZIP codes in the gazetteer map to the community district where "
                "most geolocated requests with that ZIP fell; neighbourhood names are hand-curated."
            ),
            "sources": [
                "dwillis/nyc-maps @598f08a: boroughs.geojson, community_districts.geojson "
                "(NYC Department of City Planning; no licence file, NYC open data)",
                "nikeiubel/association-rules @417cb3a and fedhere/PyBOOT @d168458: NYC 311 "
                "service requests (NYC Open Data erm2-nwe9; no licence file), normalised as "
                "nyc311_combined.csv",
            ],
        },
    )


# --------------------------------------------------------------------------------------
# Beijing
# --------------------------------------------------------------------------------------

BJ_DISTRICT_EN = {
    "110101": "Dongcheng",
    "110102": "Xicheng",
    "110105": "Chaoyang",
    "110106": "Fengtai",
    "110107": "Shijingshan",
    "110108": "Haidian",
    "110109": "Mentougou",
    "110111": "Fangshan",
    "110112": "Tongzhou",
    "110113": "Shunyi",
    "110114": "Changping",
    "110115": "Daxing",
    "110116": "Huairou",
    "110117": "Pinggu",
    "110118": "Miyun",
    "110119": "Yanqing",
}

# (code, name, name_en)
BJ_CITY_DEPARTMENTS = [
    ("BJ-CGW", "市城市管理委", "Beijing Municipal Commission of Urban Management"),
    ("BJ-CGZF", "市城市管理综合执法局", "Beijing Municipal Urban Management Law Enforcement Bureau"),
    ("BJ-ZJW", "市住房城乡建设委", "Beijing Municipal Commission of Housing and Urban-Rural Development"),
    ("BJ-GJJ", "北京住房公积金管理中心", "Beijing Housing Provident Fund Management Center"),
    ("BJ-GHZRZYW", "市规划自然资源委", "Beijing Municipal Commission of Planning and Natural Resources"),
    ("BJ-JTW", "市交通委", "Beijing Municipal Commission of Transport"),
    ("BJ-STHJJ", "市生态环境局", "Beijing Municipal Ecology and Environment Bureau"),
    ("BJ-SWJ", "市水务局", "Beijing Water Authority"),
    ("BJ-YLLHJ", "市园林绿化局", "Beijing Municipal Forestry and Parks Bureau"),
    ("BJ-WJW", "市卫生健康委", "Beijing Municipal Health Commission"),
    ("BJ-YBJ", "市医保局", "Beijing Municipal Medical Insurance Bureau"),
    ("BJ-YJJ-YP", "市药监局", "Beijing Municipal Medical Products Administration"),
    ("BJ-JW", "市教委", "Beijing Municipal Education Commission"),
    ("BJ-RSJ", "市人力社保局", "Beijing Municipal Human Resources and Social Security Bureau"),
    ("BJ-GAJ", "市公安局", "Beijing Municipal Public Security Bureau"),
    ("BJ-XFZD", "市消防救援总队", "Beijing Fire and Rescue Department"),
    ("BJ-SFJ", "市司法局", "Beijing Municipal Bureau of Justice"),
    ("BJ-SCJGJ", "市市场监管局", "Beijing Municipal Administration for Market Regulation"),
    ("BJ-ZSCQJ", "市知识产权局", "Beijing Intellectual Property Office"),
    ("BJ-MZJ", "市民政局", "Beijing Municipal Civil Affairs Bureau"),
    ("BJ-TYJRJ", "市退役军人局", "Beijing Municipal Veterans Affairs Bureau"),
    ("BJ-MZW", "市民族宗教委", "Beijing Municipal Commission for Ethnic and Religious Affairs"),
    ("BJ-WHLYJ", "市文化和旅游局", "Beijing Municipal Bureau of Culture and Tourism"),
    ("BJ-WWJ", "市文物局", "Beijing Municipal Cultural Heritage Bureau"),
    ("BJ-TYJ", "市体育局", "Beijing Municipal Bureau of Sports"),
    ("BJ-GDJ", "市广电局", "Beijing Municipal Radio and Television Bureau"),
    ("BJ-SHWJ", "市商务局", "Beijing Municipal Commerce Bureau"),
    ("BJ-NYNCJ", "市农业农村局", "Beijing Municipal Bureau of Agriculture and Rural Affairs"),
    ("BJ-FGW", "市发展改革委", "Beijing Municipal Commission of Development and Reform"),
    ("BJ-CZJ", "市财政局", "Beijing Municipal Finance Bureau"),
    ("BJ-SWUJ", "市税务局", "Beijing Municipal Tax Service, State Taxation Administration"),
    ("BJ-JRJ", "市地方金融管理局", "Beijing Local Financial Administration"),
    ("BJ-GZW", "市国资委", "State-owned Assets Supervision and Administration Commission of Beijing"),
    ("BJ-JXJ", "市经济和信息化局", "Beijing Municipal Bureau of Economy and Information Technology"),
    (
        "BJ-KW",
        "市科委、中关村管委会",
        "Beijing Municipal Science and Technology Commission, Zhongguancun Administrative Committee",
    ),
    ("BJ-TXGLJ", "北京市通信管理局", "Beijing Communications Administration"),
    ("BJ-YZGLJ", "北京市邮政管理局", "Beijing Postal Administration"),
    ("BJ-YJGLJ", "市应急管理局", "Beijing Municipal Emergency Management Bureau"),
    ("BJ-JJW", "市纪委市监委", "Beijing Municipal Commission for Discipline Inspection and Supervision"),
    ("BJ-WB", "市政府外办", "Foreign Affairs Office of the Beijing Municipal Government"),
    (
        "BJ-ZWFWJ",
        "市政务服务和数据管理局",
        "Beijing Municipal Administration of Government Services and Data",
    ),
]
BJ_DISTRICT_DEPARTMENTS = [
    ("CGW", "城市管理委", "Commission of Urban Management"),
    ("ZJW", "住房城乡建设委", "Commission of Housing and Urban-Rural Development"),
    ("SCJGJ", "市场监管局", "Administration for Market Regulation"),
]

BJ_L1_EN = {
    "城乡建设": "Urban and Rural Construction",
    "党务政务": "Party and Government Affairs",
    "国土资源": "Land and Natural Resources",
    "环境保护": "Environmental Protection",
    "纪检监察": "Discipline Inspection and Supervision",
    "交通运输": "Transport",
    "经济管理": "Economic Management",
    "科技与信息产业": "Science, Technology and Information Industry",
    "民政": "Civil Affairs",
    "农村农业": "Agriculture and Rural Affairs",
    "商贸旅游": "Commerce, Trade and Tourism",
    "卫生计生": "Health and Family Planning",
    "政法": "Public Security and Justice",
    "教育文体": "Education, Culture and Sports",
    "劳动和社会保障": "Labour and Social Security",
}
BJ_L2_EN = {
    "安全生产": "Work Safety",
    "城市建设和市政管理": "Urban Construction and Municipal Management",
    "城乡规划": "Urban and Rural Planning",
    "村镇建设": "Village and Town Construction",
    "工程质量": "Construction Quality",
    "国有土地上房屋征收与补偿": "Expropriation of Housing on State-owned Land and Compensation",
    "集体土地上房屋拆迁与补偿": "Demolition of Housing on Collective Land and Compensation",
    "建筑市场": "Construction Market",
    "其他": "Other",
    "住房保障与房地产": "Housing Security and Real Estate",
    "党的建设": "Party Building",
    "港澳台侨": "Hong Kong, Macao, Taiwan and Overseas Chinese Affairs",
    "国防外交": "National Defence and Foreign Affairs",
    "民族宗教": "Ethnic and Religious Affairs",
    "群众团体": "Mass Organisations",
    "宣传舆论": "Publicity and Public Opinion",
    "政治体制": "Political System",
    "海洋气象地震": "Oceans, Meteorology and Earthquakes",
    "矿产资源管理": "Mineral Resources Management",
    "土地征收": "Land Expropriation",
    "土地资源管理": "Land Resources Management",
    "环保管理": "Environmental Management",
    "环境污染": "Environmental Pollution",
    "建设项目审批": "Approval of Construction Projects",
    "党政处分": "Party and Administrative Sanctions",
    "干部作风": "Conduct of Officials",
    "滥用职权": "Abuse of Power",
    "失职渎职": "Dereliction of Duty",
    "贪污贿赂": "Embezzlement and Bribery",
    "出租车管理": "Taxi Management",
    "建设管理": "Construction Management",
    "交通运输": "Transport",
    "客货运输": "Passenger and Freight Transport",
    "邮政管理": "Postal Administration",
    "保险证券期货": "Insurance, Securities and Futures",
    "国资监管": "State-owned Assets Supervision",
    "宏观调控": "Macroeconomic Regulation",
    "金融财税": "Finance and Taxation",
    "能源管理": "Energy Management",
    "企业破产": "Enterprise Bankruptcy",
    "电信": "Telecommunications",
    "科学技术": "Science and Technology",
    "信息化建设": "Informatisation",
    "知识产权": "Intellectual Property",
    "福利慈善": "Welfare and Charity",
    "复退安置": "Resettlement of Demobilised Servicemen",
    "基层选举和社区建设": "Grassroots Elections and Community Building",
    "救灾募捐": "Disaster Relief and Donations",
    "民间组织": "Social Organisations",
    "区划地名": "Administrative Divisions and Place Names",
    "社会服务": "Social Services",
    "社会救助": "Social Assistance",
    "优抚": "Special Care for Veterans and Martyrs' Families",
    "草原草场": "Grasslands",
    "村务管理": "Village Affairs",
    "动物防疫": "Animal Epidemic Prevention",
    "扶贫开发": "Poverty Alleviation",
    "惠农补贴": "Agricultural Subsidies",
    "林业管理": "Forestry",
    "农副产品流通": "Agricultural Product Distribution",
    "农垦农场": "State Farms",
    "农资农技": "Farm Inputs and Technology",
    "水库移民": "Reservoir Resettlement",
    "水利水电": "Water Conservancy and Hydropower",
    "土地承包经营": "Rural Land Contracting",
    "野生资源管理": "Wild Resources Management",
    "旅游管理": "Tourism Management",
    "商业贸易": "Commerce and Trade",
    "市场监管": "Market Regulation",
    "质监检验检疫": "Quality Supervision, Inspection and Quarantine",
    "公共卫生": "Public Health",
    "人口计生": "Population and Family Planning",
    "食品药品监管": "Food and Drug Regulation",
    "医患纠纷": "Doctor-Patient Disputes",
    "医政监管": "Medical Administration",
    "法律服务": "Legal Services",
    "法制建设": "Rule of Law Building",
    "行政复议": "Administrative Reconsideration",
    "户籍证件": "Household Registration and ID",
    "交通管理": "Traffic Management",
    "警务督察": "Police Oversight",
    "社会治安": "Public Order",
    "诉讼": "Litigation",
    "刑案侦破": "Criminal Investigation",
    "刑罚执行": "Execution of Sentences",
    "仲裁与调解": "Arbitration and Mediation",
    "教师队伍和待遇": "Teachers and Their Pay",
    "教育行政管理": "Education Administration",
    "教育收费": "Education Fees",
    "教育体制": "Education System",
    "考试招生": "Examinations and Admissions",
    "失学辍学": "School Dropouts",
    "体育": "Sports",
    "文化": "Culture",
    "文物管理": "Cultural Heritage",
    "城镇居民社会保险": "Urban and Rural Residents' Social Insurance",
    "城镇职工社会保险": "Employees' Social Insurance",
    "工资福利": "Wages and Benefits",
    "就业培训": "Employment and Training",
    "劳动保护": "Labour Protection",
    "劳动关系": "Labour Relations",
    "社保基金管理": "Social Insurance Fund Management",
    "退休政策及待遇": "Retirement Policy and Pensions",
}

# Responsibilities keyed by a path of category names: (l1,), (l1, l2) or (l1, l2, l3).
# 'street' = a local matter: sent to the street (街乡) of the location, the department
# supervises; 'direct' = 直派 to the department.
BJ_RESPONSIBILITIES = {
    ("城乡建设",): ("BJ-CGW", "street"),
    ("城乡建设", "安全生产"): ("BJ-YJGLJ", "direct"),
    ("城乡建设", "城市建设和市政管理"): ("BJ-CGW", "street"),
    ("城乡建设", "城市建设和市政管理", "城管执法"): ("BJ-CGZF", "street"),
    ("城乡建设", "城市建设和市政管理", "公共汽车"): ("BJ-JTW", "direct"),
    ("城乡建设", "城市建设和市政管理", "地铁城铁"): ("BJ-JTW", "direct"),
    ("城乡建设", "城市建设和市政管理", "公园管理"): ("BJ-YLLHJ", "direct"),
    ("城乡建设", "城市建设和市政管理", "园林绿化"): ("BJ-YLLHJ", "street"),
    ("城乡建设", "城市建设和市政管理", "小区管理"): ("BJ-ZJW", "street"),
    ("城乡建设", "城市建设和市政管理", "燃气供应"): ("BJ-CGW", "direct"),
    ("城乡建设", "城市建设和市政管理", "电力供应"): ("BJ-CGW", "direct"),
    ("城乡建设", "城市建设和市政管理", "自来水供应"): ("BJ-SWJ", "direct"),
    ("城乡建设", "城乡规划"): ("BJ-GHZRZYW", "direct"),
    ("城乡建设", "城乡规划", "违章建筑"): ("BJ-CGZF", "street"),
    ("城乡建设", "村镇建设"): ("BJ-NYNCJ", "street"),
    ("城乡建设", "工程质量"): ("BJ-ZJW", "direct"),
    ("城乡建设", "国有土地上房屋征收与补偿"): ("BJ-ZJW", "direct"),
    ("城乡建设", "集体土地上房屋拆迁与补偿"): ("BJ-GHZRZYW", "direct"),
    ("城乡建设", "建筑市场"): ("BJ-ZJW", "direct"),
    ("城乡建设", "住房保障与房地产"): ("BJ-ZJW", "direct"),
    ("城乡建设", "住房保障与房地产", "住房公积金"): ("BJ-GJJ", "direct"),
    ("城乡建设", "住房保障与房地产", "物业服务"): ("BJ-ZJW", "street"),
    ("城乡建设", "住房保障与房地产", "修缮装修"): ("BJ-ZJW", "street"),
    ("党务政务",): ("BJ-ZWFWJ", "direct"),
    ("党务政务", "港澳台侨"): ("BJ-WB", "direct"),
    ("党务政务", "国防外交"): ("BJ-WB", "direct"),
    ("党务政务", "民族宗教"): ("BJ-MZW", "direct"),
    ("党务政务", "宣传舆论", "广播影视管理"): ("BJ-GDJ", "direct"),
    ("国土资源",): ("BJ-GHZRZYW", "direct"),
    ("国土资源", "海洋气象地震"): ("BJ-YJGLJ", "direct"),
    ("环境保护",): ("BJ-STHJJ", "direct"),
    ("环境保护", "环境污染", "噪音污染"): ("BJ-STHJJ", "street"),
    ("纪检监察",): ("BJ-JJW", "direct"),
    ("交通运输",): ("BJ-JTW", "direct"),
    ("交通运输", "邮政管理"): ("BJ-YZGLJ", "direct"),
    ("经济管理",): ("BJ-FGW", "direct"),
    ("经济管理", "安全生产"): ("BJ-YJGLJ", "direct"),
    ("经济管理", "保险证券期货"): ("BJ-JRJ", "direct"),
    ("经济管理", "国资监管"): ("BJ-GZW", "direct"),
    ("经济管理", "企业破产"): ("BJ-GZW", "direct"),
    ("经济管理", "金融财税"): ("BJ-CZJ", "direct"),
    ("经济管理", "金融财税", "税收征管"): ("BJ-SWUJ", "direct"),
    ("经济管理", "金融财税", "集资融资"): ("BJ-JRJ", "direct"),
    ("经济管理", "金融财税", "金融管理"): ("BJ-JRJ", "direct"),
    ("经济管理", "金融财税", "非法经济活动"): ("BJ-JRJ", "direct"),
    ("科技与信息产业",): ("BJ-KW", "direct"),
    ("科技与信息产业", "电信"): ("BJ-TXGLJ", "direct"),
    ("科技与信息产业", "信息化建设"): ("BJ-JXJ", "direct"),
    ("科技与信息产业", "知识产权"): ("BJ-ZSCQJ", "direct"),
    ("民政",): ("BJ-MZJ", "direct"),
    ("民政", "复退安置"): ("BJ-TYJRJ", "direct"),
    ("民政", "优抚"): ("BJ-TYJRJ", "direct"),
    ("民政", "基层选举和社区建设"): ("BJ-MZJ", "street"),
    ("民政", "社会救助"): ("BJ-MZJ", "street"),
    ("农村农业",): ("BJ-NYNCJ", "direct"),
    ("农村农业", "村务管理"): ("BJ-NYNCJ", "street"),
    ("农村农业", "土地承包经营"): ("BJ-NYNCJ", "street"),
    ("农村农业", "草原草场"): ("BJ-YLLHJ", "direct"),
    ("农村农业", "林业管理"): ("BJ-YLLHJ", "direct"),
    ("农村农业", "野生资源管理"): ("BJ-YLLHJ", "direct"),
    ("农村农业", "水利水电"): ("BJ-SWJ", "direct"),
    ("农村农业", "水库移民"): ("BJ-SWJ", "direct"),
    ("商贸旅游",): ("BJ-SHWJ", "direct"),
    ("商贸旅游", "旅游管理"): ("BJ-WHLYJ", "direct"),
    ("商贸旅游", "市场监管"): ("BJ-SCJGJ", "direct"),
    ("商贸旅游", "质监检验检疫"): ("BJ-SCJGJ", "direct"),
    ("卫生计生",): ("BJ-WJW", "direct"),
    ("卫生计生", "食品药品监管"): ("BJ-SCJGJ", "direct"),
    ("卫生计生", "食品药品监管", "药品和医疗器械管理"): ("BJ-YJJ-YP", "direct"),
    ("政法",): ("BJ-GAJ", "direct"),
    ("政法", "法律服务"): ("BJ-SFJ", "direct"),
    ("政法", "法制建设"): ("BJ-SFJ", "direct"),
    ("政法", "行政复议"): ("BJ-SFJ", "direct"),
    ("政法", "诉讼"): ("BJ-SFJ", "direct"),
    ("政法", "刑罚执行"): ("BJ-SFJ", "direct"),
    ("政法", "仲裁与调解"): ("BJ-SFJ", "direct"),
    ("政法", "仲裁与调解", "劳动仲裁"): ("BJ-RSJ", "direct"),
    ("政法", "仲裁与调解", "人事仲裁"): ("BJ-RSJ", "direct"),
    ("政法", "社会治安", "消防安全"): ("BJ-XFZD", "direct"),
    ("教育文体",): ("BJ-JW", "direct"),
    ("教育文体", "体育"): ("BJ-TYJ", "direct"),
    ("教育文体", "文化"): ("BJ-WHLYJ", "direct"),
    ("教育文体", "文物管理"): ("BJ-WWJ", "direct"),
    ("劳动和社会保障",): ("BJ-RSJ", "direct"),
    ("劳动和社会保障", "城镇居民社会保险", "新农村合作医疗"): ("BJ-YBJ", "direct"),
    ("劳动和社会保障", "城镇居民社会保险", "城镇居民医疗保险"): ("BJ-YBJ", "direct"),
    ("劳动和社会保障", "城镇职工社会保险", "职工医疗保险"): ("BJ-YBJ", "direct"),
    ("劳动和社会保障", "城镇职工社会保险", "职工生育保险"): ("BJ-YBJ", "direct"),
    ("劳动和社会保障", "工资福利", "住房公积金"): ("BJ-GJJ", "direct"),
}

BJ_STREET_SUFFIX_EN = [("街道", "Subdistrict"), ("地区", "Area"), ("镇", "Town"), ("乡", "Township")]
# Stems whose reading pypinyin gets wrong (polyphones) or that have an established spelling.
BJ_PINYIN_OVERRIDES = {
    "朝阳门": "Chaoyangmen",
    "什刹海": "Shichahai",
    "大栅栏": "Dashilar",
    "长辛店": "Changxindian",
    "长阳": "Changyang",
    "长沟": "Changgou",
    "长子营": "Changziying",
    "佛子庄": "Fozizhuang",
    "马家堡": "Majiapu",
    "西长安街": "Xichang'anjie",
    "张": "Zhangzhen",
}
# Whole names that are not 街道/地区/镇/乡 or that need a descriptive English name.
BJ_NAME_EN_OVERRIDES = {
    "于家务回族乡": "Yujiawu Hui Ethnic Township",
    "长哨营满族乡": "Changshaoying Manchu Ethnic Township",
    "喇叭沟门满族乡": "Labagoumen Manchu Ethnic Township",
    "北京经济技术开发区": "Beijing Economic-Technological Development Area",
    "中关村国家自主创新示范区大兴生物医药产业基地": "Zhongguancun Daxing Biomedicine Industry Base",
    "大兴经济开发区": "Daxing Economic Development Zone",
    "大兴国际机场": "Daxing International Airport",
    "北京雁栖经济开发区": "Beijing Yanqi Economic Development Zone",
    "中关村科技园区密云园": "Zhongguancun Science Park Miyun Park",
}


def pinyin_name(name: str, to_pinyin) -> str:
    """'双井街道' -> 'Shuangjing Subdistrict'."""
    if name in BJ_NAME_EN_OVERRIDES:
        return BJ_NAME_EN_OVERRIDES[name]
    if to_pinyin is None:
        return name
    for zh, en in BJ_STREET_SUFFIX_EN:
        if name.endswith(zh) and len(name) > len(zh):
            stem = name[: -len(zh)]
            return f"{_py(stem, to_pinyin)} {en}"
    return _py(name, to_pinyin)


def _py(text: str, to_pinyin) -> str:
    if text in BJ_PINYIN_OVERRIDES:
        return BJ_PINYIN_OVERRIDES[text]
    s = "".join(x[0] for x in to_pinyin(text))
    return s[:1].upper() + s[1:]


# The demo street's communities (社区). Their names and shapes are SYNTHETIC, like the street shapes:
# the demo needs a street whose requests locate to communities, and no public community boundaries exist.
DEMO_COMMUNITIES = {
    "110105016": [
        ("双井东社区", "Shuangjing East Community"),
        ("双井西社区", "Shuangjing West Community"),
        ("双井南社区", "Shuangjing South Community"),
        ("双井北社区", "Shuangjing North Community"),
    ],
}


def demo_communities(street, n: int, code: str):
    """(the street on the shared grid, its ``n`` community pieces): Voronoi cells like the streets'."""
    cells = voronoi_streets(street, n, zlib.crc32(f"communities-{code}".encode()))
    return partition(street, cells)


def voronoi_streets(district, n: int, seed: int, iterations: int = 20):
    """Split ``district`` into ``n`` synthetic cells (clipped, Lloyd-relaxed Voronoi).

    Work in a locally equal-area plane (longitude scaled by cos(latitude)) so that cells are
    roughly isotropic, then map back. Returns the ``n`` Voronoi cells (not yet clipped to the
    district; together they cover it) in a stable north-west to south-east order.
    """
    cy = district.centroid.y
    k = math.cos(math.radians(cy))
    fwd = lambda xy: np.column_stack([xy[:, 0] * k, xy[:, 1]])  # noqa: E731
    back = lambda xy: np.column_stack([xy[:, 0] / k, xy[:, 1]])  # noqa: E731
    dist = shapely.transform(district, fwd)
    if n == 1:
        return [district.envelope]
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = dist.bounds
    shapely.prepare(dist)
    pts = np.empty((0, 2))
    while len(pts) < n:
        cand = rng.uniform((minx, miny), (maxx, maxy), size=(4 * n, 2))
        cand = cand[shapely.contains_xy(dist, cand[:, 0], cand[:, 1])]
        pts = np.vstack([pts, cand])[:n]
    envelope = shapely.box(minx, miny, maxx, maxy).buffer(max(maxx - minx, maxy - miny))
    for it in range(iterations + 1):
        vor = shapely.voronoi_polygons(shapely.multipoints(pts), extend_to=envelope, ordered=True)
        if it == iterations:
            break
        cells = [polygonal(c.intersection(dist)) for c in vor.geoms]
        new = []
        for c, p in zip(cells, pts, strict=True):
            if c.is_empty:
                new.append(p)
                continue
            q = c.centroid
            if not dist.contains(q):
                q = c.point_on_surface()
            new.append((q.x, q.y))
        pts = np.round(np.array(new), 9)  # rounding keeps runs bit-stable
    order = sorted(range(n), key=lambda i: (-round(pts[i][1], 3), round(pts[i][0], 3)))
    # Unclipped cells: the caller clips them to the real (unscaled) district.
    return [shapely.transform(vor.geoms[i], back) for i in order]


BJ_POPULATION_NOTE = (
    "ILLUSTRATIVE, NOT REAL: no street-level (街道/乡镇) population figures were in the public data "
    "this pack is built from, so each street's population in population.csv is a made-up number "
    "(15,000-180,000, drawn from a hash of its code) that lets the demo's 治理类街乡 list "
    "(requests per 10,000 residents) work. A city supplies its own: replace population.csv "
    "(jurisdiction,population) with the census figures (e.g. the 2020 seventh census by street), "
    "set population_illustrative to false and say the source and year here."
)


def illustrative_population(code: str) -> int:
    """A made-up number of residents for a street: log-uniform in 15,000-180,000, rounded to 100, from a
    hash of its code (the same every build). NOT a real figure."""
    u = zlib.crc32(f"population-{code}".encode()) / 0xFFFFFFFF
    return int(round(15_000 * (180_000 / 15_000) ** u, -2))


def build_beijing(data: Path, out: Path, tolerance: float, use_pinyin: bool):
    out.mkdir(parents=True, exist_ok=True)
    to_pinyin = None
    if use_pinyin:
        from pypinyin import Style, pinyin

        to_pinyin = lambda s: pinyin(s, style=Style.NORMAL, errors="ignore")  # noqa: E731
    bdir = data / "boundaries" / "beijing"
    dist_rows = read_csv(bdir / "districts.csv")
    street_rows = read_csv(bdir / "streets.csv")
    assert len(dist_rows) == 16 and len(street_rows) == 349
    dist_name = {r["code"]: r["name"] for r in dist_rows}
    dist_codes = [r["code"] for r in dist_rows]

    gj = json.loads((bdir / "beijing_districts_110100_full.geojson").read_text(encoding="utf-8"))
    raw = {str(f["properties"]["adcode"]): polygonal(shape(f["geometry"])) for f in gj["features"]}
    assert sorted(raw) == sorted(dist_codes)
    simple = shapely.coverage_simplify([raw[c] for c in dist_codes], tolerance)
    dgeom = {c: snap(polygonal(g)) for c, g in zip(dist_codes, simple, strict=True)}
    outline = json.loads((bdir / "beijing_city_outline_110000_full.geojson").read_text(encoding="utf-8"))[
        "features"
    ][0]
    city = snap(polygonal(shape(outline["geometry"])).simplify(tolerance, preserve_topology=True))

    by_dist = collections.defaultdict(list)
    for r in street_rows:
        by_dist[r["areaCode"]].append(r)
    street_feats = []
    for c in dist_codes:
        streets = sorted(by_dist[c], key=lambda r: r["code"])
        seed = zlib.crc32(c.encode())
        cells = voronoi_streets(dgeom[c], len(streets), seed)
        dgeom[c], pieces = partition(dgeom[c], cells)
        for r, g in zip(streets, pieces, strict=True):
            assert not g.is_empty and g.is_valid, r
            street_feats.append(
                (
                    {
                        "code": r["code"],
                        "name": r["name"],
                        "name_en": pinyin_name(r["name"], to_pinyin),
                        "level": "street",
                        "parent": c,
                    },
                    g,
                )
            )

    features = [
        ({"code": "110000", "name": "北京市", "name_en": "Beijing", "level": "city", "parent": None}, city)
    ]
    for c in dist_codes:
        features.append(
            (
                {
                    "code": c,
                    "name": dist_name[c],
                    "name_en": f"{BJ_DISTRICT_EN[c]} District",
                    "level": "district",
                    "parent": "110000",
                },
                dgeom[c],
            )
        )
    for props, geom in street_feats:
        features.append((props, geom))
        names = DEMO_COMMUNITIES.get(props["code"])
        if names:
            street, pieces = demo_communities(geom, len(names), props["code"])
            features[-1] = (props, street)
            for i, ((name, name_en), piece) in enumerate(zip(names, pieces, strict=True), start=1):
                code = f"{props['code']}{i:03d}"
                level = {
                    "code": code,
                    "name": name,
                    "name_en": name_en,
                    "level": "community",
                    "parent": props["code"],
                }
                features.append((level, piece))
    write_geojson(out / "jurisdictions.geojson", features)

    # ---- departments
    deps = [(code, nm, en, "city", "") for code, nm, en in BJ_CITY_DEPARTMENTS]
    for c in dist_codes:
        for suffix, nm, en in BJ_DISTRICT_DEPARTMENTS:
            deps.append(
                (f"{c}-{suffix}", f"{dist_name[c]}{nm}", f"{BJ_DISTRICT_EN[c]} District {en}", "district", c)
            )
    write_csv(out / "departments.csv", ["code", "name", "name_en", "level", "district"], deps)
    dep_codes = {d[0] for d in deps}

    # ---- categories: the taxonomy's own order of first appearance
    tax = read_csv(data / "gov_messages_cn" / "label_taxonomy_3level.csv")
    tree: dict = {}
    for r in tax:
        l1, l2, l3 = r["一级分类"].strip(), r["二级分类"].strip(), r["三级分类"].strip()
        tree.setdefault(l1, {}).setdefault(l2, [])
        if l3 not in tree[l1][l2]:
            tree[l1][l2].append(l3)
    assert len(tree) == 15
    cats, path_code = [], {}
    for i, (l1, sub) in enumerate(tree.items(), 1):
        c1 = f"{i:02d}"
        cats.append((c1, l1, BJ_L1_EN[l1], ""))
        path_code[(l1,)] = c1
        for j, (l2, leaves) in enumerate(sub.items(), 1):
            c2 = f"{c1}.{j:02d}"
            cats.append((c2, l2, BJ_L2_EN.get(l2, l2), c1))
            path_code[(l1, l2)] = c2
            for k, l3 in enumerate(leaves, 1):
                c3 = f"{c2}.{k:02d}"
                en = "Other" if l3 == "其他" else l3
                cats.append((c3, l3, en, c2))
                path_code[(l1, l2, l3)] = c3
    assert sum(1 for c in cats if c[0].count(".") == 2) == len(tax)
    write_csv(out / "categories.csv", ["code", "name", "name_en", "parent"], cats)

    resp = []
    for path, (dep, route) in BJ_RESPONSIBILITIES.items():
        assert path in path_code, f"unknown category path {path}"
        assert dep in dep_codes, dep
        resp.append((path_code[path], dep, route))
    resp.sort(key=lambda r: [int(x) for x in r[0].split(".")])
    write_csv(out / "responsibilities.csv", ["category", "department", "route"], resp)

    # ---- gazetteer: short names
    gaz = [("北京", "110000")]
    dist_short = {}
    for c in dist_codes:
        short = dist_name[c][:-1] if dist_name[c].endswith("区") else dist_name[c]
        dist_short[short] = c
        gaz.append((short, c))
    cand = collections.defaultdict(list)
    for r in street_rows:
        for zh, _ in BJ_STREET_SUFFIX_EN:
            if r["name"].endswith(zh) and len(r["name"]) - len(zh) >= 2:
                cand[r["name"][: -len(zh)]].append(r["code"])
                break
    full_names = {r["name"] for r in street_rows} | set(dist_name.values())
    for short in sorted(cand, key=lambda s: cand[s][0]):
        codes = cand[short]
        if len(codes) == 1 and short not in dist_short and short not in full_names:
            gaz.append((short, codes[0]))
    write_csv(out / "gazetteer.csv", ["name", "jurisdiction"], gaz)
    write_csv(
        out / "population.csv",
        ["jurisdiction", "population"],
        [(r["code"], illustrative_population(r["code"])) for r in street_rows],
    )

    write_yaml(
        out / "pack.yaml",
        {
            "code": "beijing",
            "name": "北京市",
            "name_en": "Beijing",
            "country": "CN",
            "timezone": "Asia/Shanghai",
            "calendar": "cn",
            "default_language": "zh-hans",
            "synthetic_shapes": True,
            "notes": (
                "The 16 district outlines and the city outline are real (DataV GeoAtlas), "
                "coverage-simplified; their coordinates are probably GCJ-02 (the offset Chinese "
                "datum used by Chinese web maps), not WGS-84, so GPS (WGS-84) points can be "
                "several hundred metres off and should be converted before locating. The 349 "
                "street/township (街道/乡镇/地区) names and codes are real (National Bureau of "
                "Statistics codes), but their shapes are SYNTHETIC: no public street boundaries "
                "exist, so each district was cut into Lloyd-relaxed Voronoi cells (seeded, "
                "clipped to the district) and one cell was given to each street in code order. "
                "These cells are NOT real boundaries: a point located with them gets a plausible "
                "but usually wrong street. Replace them with the city's own boundaries before any "
                "real use. The four communities (社区) of 双井街道 are SYNTHETIC too, names and shapes, "
                "so the demo street has communities. Street English names are pypinyin "
                "transliterations (machine-made). The "
                "category tree is the 3-level taxonomy of a Chinese city government's message "
                "board (TipDM Cup 2020); departments and responsibilities are a hand-made "
                "Beijing-style mapping, not an official list of duties."
            ),
            "sources": [
                "Tianyunxing/mapfiles @9d6a313: beijing_districts_110100_full.geojson, "
                "beijing_city_outline_110000_full.geojson (DataV GeoAtlas; no licence file)",
                "modood/Administrative-divisions-of-China @57a0aa9: dist/streets.csv, "
                "dist/areas.csv (WTFPL; National Bureau of Statistics codes)",
                "694035434/Natural-language-processing-and-text-mining @b55669f and "
                "Rollbear-bot/HelloNLP-TopicC-in-TipDMCup2020 @505edf1: label_taxonomy_3level.csv "
                "(2020 TipDM Cup problem C; no licence file)",
            ],
            "population_illustrative": True,
            "population_note": BJ_POPULATION_NOTE,
            # the leaders' brief sets the three rates against these; CityLoop's defaults, not an
            # official Beijing standard: the city sets its own
            "targets": {"response": 95, "resolution": 90, "satisfaction": 90},
        },
    )


# --------------------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", type=Path, required=True, help="the shared data folder")
    ap.add_argument("--out", type=Path, required=True, help="the packs folder to write")
    ap.add_argument("--nyc-tolerance", type=float, default=0.0004)
    ap.add_argument("--beijing-tolerance", type=float, default=0.002)
    ap.add_argument("--no-pinyin", action="store_true", help="street name_en = name")
    ap.add_argument("--only", choices=["nyc", "beijing"])
    args = ap.parse_args(argv)

    ok = True
    if args.only in (None, "nyc"):
        out = args.out / "nyc"
        build_nyc(args.data, out, args.nyc_tolerance)
        s = check_pack(out, {"city": 1, "district": 5, "street": 59})
        print("nyc:", s)
        if s["bytes"] >= 1_000_000:
            print("ERROR: nyc pack is not under 1 MB", file=sys.stderr)
            ok = False
    if args.only in (None, "beijing"):
        out = args.out / "beijing"
        build_beijing(args.data, out, args.beijing_tolerance, not args.no_pinyin)
        s = check_pack(out, {"city": 1, "district": 16, "street": 349})
        print("beijing:", s)
        if s["bytes"] >= 1_500_000:
            print("ERROR: beijing pack is not under 1.5 MB", file=sys.stderr)
            ok = False
    for d in ("nyc", "beijing"):
        p = args.out / d
        if p.exists():
            for f in sorted(p.iterdir()):
                print(f"  {d}/{f.name}: {f.stat().st_size:,} bytes")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
