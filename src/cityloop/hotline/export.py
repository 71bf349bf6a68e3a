"""The one CSV export of requests, behind both the search page's download and ``GET /api/v1/requests.csv``.

Every cell is guarded against spreadsheet formulas (citizens write the descriptions, titles and
addresses), callers are shown exactly as the reader may see them (masked, or hidden for a
confidential caller), times are in the city's time zone, and the rows stream so a whole year fits.
"""

from __future__ import annotations

import csv

from django.http import StreamingHttpResponse
from django.utils import timezone

from cityloop.core.actors import Actor
from cityloop.hotline.api_common import contact

COLUMNS = [
    "tracking_no",
    "created_at",
    "status",
    "channel",
    "category",
    "category_name",
    "district",
    "district_name",
    "street",
    "street_name",
    "community",
    "address",
    "title",
    "lon",
    "lat",
    "urgency",
    "response_due",
    "finish_due",
    "replied_at",
    "closed_at",
    "outcome",
    "resolved",
    "satisfaction",
    "caller_name",
    "caller_phone",
]
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def cell(value) -> str:
    """The text of one cell; one that a spreadsheet would run as a formula gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _when(moment) -> str:
    return timezone.localtime(moment).isoformat(timespec="minutes") if moment else ""


def row(actor: Actor, r) -> list[str]:
    caller = contact(actor, r)
    return [
        cell(v)
        for v in (
            r.tracking_no,
            _when(r.created_at),
            r.status,
            r.channel,
            r.category.code if r.category_id else "",
            r.category.label if r.category_id else "",
            r.district.code if r.district_id else "",
            r.district.label if r.district_id else "",
            r.street.code if r.street_id else "",
            r.street.label if r.street_id else "",
            r.community.code if r.community_id else "",
            r.address,
            r.title,
            "" if r.lon is None else r.lon,
            "" if r.lat is None else r.lat,
            r.urgency,
            _when(r.response_due),
            _when(r.finish_due),
            _when(r.replied_at),
            _when(r.closed_at),
            r.outcome,
            "" if r.resolved is None else int(r.resolved),
            r.satisfaction,
            caller["name"],
            caller["phone"],
        )
    ]


class _Echo:
    def write(self, value):
        return value


def response(actor: Actor, requests, *, filename: str) -> StreamingHttpResponse:
    """Stream ``requests`` (already scoped to ``actor``) as CSV, UTF-8 with a BOM for spreadsheets."""
    writer = csv.writer(_Echo())
    requests = requests.select_related("category", "district", "street", "community")

    def rows():
        yield "\ufeff" + writer.writerow(COLUMNS)
        for r in requests.iterator(chunk_size=2000):
            yield writer.writerow(row(actor, r))

    answer = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    answer["Content-Disposition"] = f'attachment; filename="{filename}"'
    return answer
