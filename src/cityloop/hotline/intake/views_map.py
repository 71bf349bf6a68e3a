"""The submit page's map: the city's own districts and streets as vector shapes, and its gazetteer.

Read by static/hotline/map_picker.js, which draws them with the vendored Leaflet and no tile server, so
the picker works on an intranet cut off from the internet. Public, like the submit page itself.
"""

from __future__ import annotations

import json
import threading

from django.http import HttpResponse
from django.utils.translation import get_language
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from cityloop.hotline.views_common import current_city
from cityloop.org import queries as org_queries


def _bbox(place) -> list:
    return [place.min_lon, place.min_lat, place.max_lon, place.max_lat]


def _collection(places, parents: dict[int, str]) -> dict:
    features = [
        {
            "type": "Feature",
            "geometry": json.loads(p.geometry),
            "properties": {"code": p.code, "name": p.label, "parent": parents.get(p.parent_id or 0, "")},
        }
        for p in places
        if p.geometry
    ]
    return {"type": "FeatureCollection", "features": features}


# Built once per city and language per process (a big city's is ~370 KB and takes about a second to
# build), and forgotten when a city, a place or a pack changes, like org's own locator caches.
_built: dict[tuple[int, str], bytes] = {}
_lock = threading.Lock()


def _forget(**_kwargs) -> None:
    with _lock:
        _built.clear()


org_queries.on_city_change(_forget, uid="hotline-submit-map")


@require_GET
@cache_control(max_age=600)
def map_data(request):
    """Districts and streets (GeoJSON, names in the page's language) and the gazetteer's names."""
    city = current_city()
    key = (city.pk, get_language() or "")
    with _lock:
        body = _built.get(key)
    if body is None:
        body = _build(city)
        with _lock:
            _built[key] = body
    return HttpResponse(body, content_type="application/json")


def _build(city) -> bytes:
    shapes = org_queries.places(city, levels=["district", "street"]).order_by("code")
    parents = {p.pk: p.code for p in org_queries.places(city).only("code")}
    districts = _collection(shapes.filter(level="district"), parents)
    streets = _collection(shapes.filter(level="street"), parents)
    # A gazetteer name points to the district, street or community it lies in: typing it in the address
    # moves the map there (the point itself is still the citizen's click or location).
    boxes = {
        p.pk: p
        for p in org_queries.places(city, levels=["district", "street", "community"]).only(
            "code", "name", "name_en", "level", "min_lon", "min_lat", "max_lon", "max_lat"
        )
    }
    places = [{"name": p.label, "code": p.code, "bbox": _bbox(p)} for p in boxes.values()]
    places += [
        {"name": n.name, "code": boxes[n.jurisdiction_id].code, "bbox": _bbox(boxes[n.jurisdiction_id])}
        for n in org_queries.place_names(city).order_by("name")
        if n.jurisdiction_id in boxes
    ]
    data = {"districts": districts, "streets": streets, "places": places, "bounds": _bbox(city)}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
