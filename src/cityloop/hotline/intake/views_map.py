"""The submit page's map: the city's own districts and streets as vector shapes, and its gazetteer.

Read by static/hotline/map_picker.js, which draws them with the vendored Leaflet and no tile server, so
the picker works on an intranet cut off from the internet. Public, like the submit page itself.
"""

from __future__ import annotations

import json

from django.http import JsonResponse
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


@require_GET
@cache_control(max_age=600)
def map_data(request):
    """Districts and streets (GeoJSON, names in the page's language) and the gazetteer's names."""
    city = current_city()
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
    return JsonResponse(
        {"districts": districts, "streets": streets, "places": places, "bounds": _bbox(city)},
        json_dumps_params={"ensure_ascii": False},
    )
