"""XML and JSON output (the JSON is the Spark-convention mapping of the XML), and Open311 errors."""

from __future__ import annotations

import json
from xml.etree import ElementTree as ET

from django.http import HttpResponse

from cityloop.core.text import xml_safe

FORMATS = {"xml": "text/xml; charset=utf-8", "json": "application/json; charset=utf-8"}

# A list under this key is written as <key><item/>...</key>.
ITEM_TAGS = {
    "attributes": "attribute",
    "values": "value",
    "endpoints": "endpoint",
    "formats": "format",
    "notes": "note",
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "service_request_updates": "request_update",
}


class Open311Error(Exception):
    """One or more problems, answered as <errors> with one HTTP status (400, 403, 404, 429)."""

    def __init__(self, status: int, *errors: tuple[str, str], headers: dict | None = None):
        self.status = status
        self.errors = [
            {"code": status, "description": f"{field}: {message}" if field else message}
            for field, message in errors
        ]
        self.headers = headers or {}
        super().__init__("; ".join(e["description"] for e in self.errors))


def _text(value) -> str:
    """XML text: characters XML 1.0 forbids (stored before the text rule, or in a client's echo) are
    dropped."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else xml_safe(value)


def _append(parent: ET.Element, tag: str, value) -> None:
    child = ET.SubElement(parent, tag)
    if isinstance(value, dict):
        for key, item in value.items():
            _append(child, key, item)
    elif isinstance(value, list):
        item_tag = ITEM_TAGS.get(tag, "item")
        for item in value:
            _append(child, item_tag, item)
    else:
        child.text = _text(value)


def to_xml(root: str, data) -> bytes:
    """``data`` is a list (items of ``root``) or a dict (children of ``root``)."""
    element = ET.Element(root)
    if isinstance(data, list):
        for item in data:
            _append(element, ITEM_TAGS[root], item)
    else:
        for key, value in data.items():
            _append(element, key, value)
    return ET.tostring(element, encoding="utf-8", xml_declaration=True)


def respond(fmt: str, root: str, data, *, status: int = 200, headers: dict | None = None) -> HttpResponse:
    if fmt == "json":
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
    else:
        body = to_xml(root, data)
    response = HttpResponse(body, status=status, content_type=FORMATS[fmt])
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def error_response(fmt: str, error: Open311Error) -> HttpResponse:
    # An unknown format still gets an answer: in XML, the format every GeoReport client reads.
    return respond(
        fmt if fmt in FORMATS else "xml", "errors", error.errors, status=error.status, headers=error.headers
    )
