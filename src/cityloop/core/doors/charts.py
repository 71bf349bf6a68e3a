"""Charts and maps rendered as SVG on the server (no JavaScript, no CDN)."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import shapely
from django.utils.safestring import SafeString, mark_safe

FONT = "'Noto Sans CJK SC','Noto Sans SC','PingFang SC','Microsoft YaHei',sans-serif"
# Sequential palette (light → dark), readable in print and for most colour-blind readers.
PALETTE = ["#f7fbff", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c"]
# A map of how well areas do: the worst is dark red, the best pale — the eye goes to the problems.
WORST_FIRST = ["#a50f15", "#de2d26", "#fb6a4a", "#fc9272", "#fcbba1", "#fee5d9"]
NO_DATA = "#e8e8e8"
# No data is hatched grey, never a pale colour that could be read as a value.
HATCH_ID = "cl-no-data"
HATCH = (
    f'<defs><pattern id="{HATCH_ID}" width="6" height="6" patternUnits="userSpaceOnUse" '
    'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f2f2f2"/>'
    '<line x1="0" y1="0" x2="0" y2="6" stroke="#9a9a9a" stroke-width="1.5"/></pattern></defs>'
)
NO_DATA_FILL = f"url(#{HATCH_ID})"


@dataclass(frozen=True)
class Shape:
    key: str
    label: str
    geometry: object  # shapely geometry in lon/lat


def _projector(bounds, width: float, height: float, pad: float = 4):
    min_x, min_y, max_x, max_y = bounds
    mid_lat = math.radians((min_y + max_y) / 2)
    kx = math.cos(mid_lat)  # equirectangular, true to shape near the city
    span_x, span_y = max((max_x - min_x) * kx, 1e-9), max(max_y - min_y, 1e-9)
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    off_x = (width - span_x * scale) / 2
    off_y = (height - span_y * scale) / 2

    def project(x: float, y: float) -> tuple[float, float]:
        return off_x + (x - min_x) * kx * scale, height - (off_y + (y - min_y) * scale)

    return project, scale


def _path(geometry, project) -> str:
    parts = []
    polygons = geometry.geoms if hasattr(geometry, "geoms") else [geometry]
    for polygon in polygons:
        for ring in [polygon.exterior, *polygon.interiors]:
            coords = [project(x, y) for x, y in ring.coords]
            parts.append("M" + "L".join(f"{x:.1f},{y:.1f}" for x, y in coords) + "Z")
    return "".join(parts)


def bucket_edges(values: Sequence[float], buckets: int = len(PALETTE)) -> list[float]:
    """Equal-interval edges between the smallest and largest value."""
    low, high = min(values), max(values)
    if high - low < 1e-12:
        return [low] * (buckets - 1)
    return [low + (high - low) * i / buckets for i in range(1, buckets)]


def colour(value: float | None, edges: list[float], palette: Sequence[str] = PALETTE) -> str:
    """The bucket's fill, ``palette`` ordered from the lowest values to the highest."""
    if value is None:
        return NO_DATA
    index = sum(value > edge for edge in edges)
    return palette[min(index, len(palette) - 1)]


def palette_for(worse: str | None) -> list[str]:
    """Lowest-to-highest fills: red for the bad end (``worse="low"``: a low rate is bad; ``"high"``:
    a high one is), or the neutral blue scale for a quantity that is neither good nor bad."""
    if worse == "low":
        return list(WORST_FIRST)
    if worse == "high":
        return list(reversed(WORST_FIRST))
    return list(PALETTE)


@dataclass(frozen=True)
class Frame:
    """Shapes projected once (cache it: only the fills change): the paths, where each area's label
    goes, and the projection itself, for markers placed by longitude and latitude."""

    paths: list[tuple[str, str, str]]  # (key, label, SVG path)
    anchors: dict[str, tuple[float, float, float]]  # key → (x, y, area in square pixels)
    bounds: tuple[float, float, float, float]
    width: int
    height: int

    def point(self, lon: float, lat: float) -> tuple[float, float] | None:
        """Where a longitude/latitude falls on the map, or None outside the picture."""
        project, _ = _projector(self.bounds, self.width, self.height - 40)
        x, y = project(lon, lat)
        if 0 <= x <= self.width and 0 <= y <= self.height:
            return x, y
        return None


def project_frame(shapes: list[Shape], *, width: int = 640, height: int = 480) -> Frame:
    if not shapes:
        return Frame([], {}, (0.0, 0.0, 0.0, 0.0), width, height)
    union_bounds = tuple(float(v) for v in shapely.total_bounds([s.geometry for s in shapes]))
    project, scale = _projector(union_bounds, width, height - 40)
    tolerance = 0.6 / scale  # drop detail finer than about half a pixel
    paths, anchors = [], {}
    for s in shapes:
        paths.append((s.key, s.label, _path(s.geometry.simplify(tolerance, preserve_topology=True), project)))
        inside = s.geometry.point_on_surface()  # inside the area even when it is a crescent
        x, y = project(inside.x, inside.y)
        anchors[s.key] = (x, y, s.geometry.area * (scale**2) * math.cos(math.radians(inside.y)))
    return Frame(paths, anchors, union_bounds, width, height)  # type: ignore[arg-type]


def project_shapes(shapes: list[Shape], *, width: int = 640, height: int = 480) -> list[tuple[str, str, str]]:
    """(key, label, SVG path) per shape, simplified to the pixel; cache it, only the fills change."""
    return project_frame(shapes, width=width, height=height).paths


@dataclass(frozen=True)
class Marker:
    """A point drawn over a map (e.g. an open sensor alarm), with its words and an optional link."""

    x: float
    y: float
    label: str
    href: str = ""


def _text_width(text: str, size: float) -> float:
    """Roughly how wide ``text`` is: a CJK character is about a square, a Latin one about half."""
    return sum(size if ord(ch) > 0x2E80 else size * 0.58 for ch in text)


def place_labels(
    anchors: dict[str, tuple[float, float, float]],
    labels: dict[str, str],
    *,
    size: float,
    width: int,
    height: int,
) -> list[tuple[str, float, float]]:
    """(key, x, y) of the labels that fit: the largest areas first, a label that would overlap one
    already placed or leave the picture is left out (the area's hover title and the table name it)."""
    placed: list[tuple[float, float, float, float]] = []
    out = []
    for key in sorted(anchors, key=lambda k: -anchors[k][2]):
        if key not in labels:
            continue
        x, y, _area = anchors[key]
        half_w, half_h = _text_width(labels[key], size) / 2 + 2, size * 0.6 + 1
        box = (x - half_w, y - half_h, x + half_w, y + half_h)
        if box[0] < 0 or box[2] > width or box[1] < 0 or box[3] > height:
            continue
        if any(box[0] < b[2] and b[0] < box[2] and box[1] < b[3] and b[1] < box[3] for b in placed):
            continue
        placed.append(box)
        out.append((key, x, y))
    return out


def choropleth(
    paths: list[tuple[str, str, str]],
    values: dict[str, float | None],
    *,
    title: str,
    fmt=lambda v: f"{v:.1%}",
    no_data: str = "no data",
    worse: str | None = None,
    width: int = 640,
    height: int = 480,
    links: dict[str, str] | None = None,
    anchors: dict[str, tuple[float, float, float]] | None = None,
    label_size: float = 12,
    markers: Sequence[Marker] = (),
    marker_key: str = "",
    scale_note: str = "",
) -> SafeString:
    """A filled map from ``project_shapes``: a hover title per area with its value, and a legend below
    the map (its own rows, never cut off). ``worse`` says which end is bad (``"low"``/``"high"``): that
    end is dark red. Areas without data are hatched.

    ``links`` (key → URL) makes areas links (an ``<a>`` around each, no JavaScript); ``anchors`` (from
    :func:`project_frame`) places the areas' names on the map where they do not collide; ``markers``
    are drawn on top as triangles, named in the legend by ``marker_key``; ``scale_note`` heads the
    legend (e.g. which colour is bad)."""
    if not paths:
        return mark_safe("")
    present = [v for v in values.values() if v is not None]
    edges = bucket_edges(present) if present else []
    palette = palette_for(worse)
    note_rows = 1 if scale_note else 0
    legend_y = height + 8 + note_rows * LEGEND_ROW
    keys = (len(palette) if present else 0) + 1 + (1 if marker_key else 0)  # colours, no data, markers
    rows = -(-keys // LEGEND_PER_ROW)  # ceiling: the legend's own rows
    total = height + 12 + (rows + note_rows) * LEGEND_ROW
    # links inside a role="img" would be hidden from screen readers: a linked map is a group
    role = "group" if links else "img"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {total}" role="{role}" '
        f'aria-label="{escape(title)}" class="choropleth" font-family="{FONT}">',
        f"<title>{escape(title)}</title>",
        HATCH,
    ]
    labels = {}
    for key, label, d in paths:
        labels[key] = label
        value = values.get(key)
        text = f"{label}: {fmt(value) if value is not None else no_data}"
        fill = colour(value, edges, palette) if value is not None else NO_DATA_FILL
        shape = (
            f'<path d="{d}" fill="{fill}" stroke="#555" stroke-width="0.4" '
            f'data-key="{escape(key)}"><title>{escape(text)}</title></path>'
        )
        href = (links or {}).get(key)
        if href:
            shape = f'<a href="{escape(href)}" aria-label="{escape(text)}">{shape}</a>'
        out.append(shape)
    if anchors:
        out.append(
            f'<g class="labels" aria-hidden="true" pointer-events="none" font-size="{label_size:g}" '
            'text-anchor="middle" dominant-baseline="central" fill="#111" stroke="#fff" '
            'stroke-width="3" stroke-linejoin="round" paint-order="stroke">'
        )
        for key, x, y in place_labels(anchors, labels, size=label_size, width=width, height=height):
            out.append(f'<text x="{x:.1f}" y="{y:.1f}" data-key="{escape(key)}">{escape(labels[key])}</text>')
        out.append("</g>")
    if markers:
        out.append('<g class="markers">')
        for m in markers:
            mark = (
                f'<path d="{_triangle(m.x, m.y)}" fill="{MARKER_FILL}" stroke="#111" stroke-width="1.2">'
                f"<title>{escape(m.label)}</title></path>"
            )
            if m.href:
                mark = f'<a href="{escape(m.href)}" aria-label="{escape(m.label)}">{mark}</a>'
            out.append(mark)
        out.append("</g>")
    if scale_note:
        out.append(
            f'<text x="8" y="{height + 19}" font-size="11" class="scale-note">{escape(scale_note)}</text>'
        )
    out.append(_legend(edges, present, fmt, no_data, palette, y=legend_y, width=width, marker_key=marker_key))
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 (every interpolated text is escaped above)


LEGEND_PER_ROW = 4
LEGEND_ROW = 20
MARKER_FILL = "#ffd400"  # a warning yellow with a black edge: apart from every red of the scale


def _triangle(x: float, y: float, size: float = 7) -> str:
    return f"M{x:.1f},{y - size:.1f}L{x + size:.1f},{y + size * 0.8:.1f}L{x - size:.1f},{y + size * 0.8:.1f}Z"


def _legend(
    edges, present, fmt, no_data: str, palette: Sequence[str], *, y: float, width: int, marker_key: str = ""
) -> str:
    keys: list[tuple[str, str]] = []
    if present:
        low, high = min(present), max(present)
        bounds = [low, *edges, high]
        for i, fill in enumerate(palette):
            label = f"{fmt(bounds[i])}–{fmt(bounds[i + 1])}" if i + 1 < len(bounds) else fmt(bounds[-1])
            keys.append((fill, label))
    keys.append((NO_DATA_FILL, no_data))
    if marker_key:
        keys.append(("marker", marker_key))
    step = (width - 16) / LEGEND_PER_ROW
    items = []
    for n, (fill, label) in enumerate(keys):
        x, row_y = 8 + step * (n % LEGEND_PER_ROW), y + LEGEND_ROW * (n // LEGEND_PER_ROW)
        if fill == "marker":
            swatch = (
                f'<path d="{_triangle(x + 7, row_y + 7, 6)}" fill="{MARKER_FILL}" stroke="#111" '
                'stroke-width="1.2"/>'
            )
        else:
            swatch = (
                f'<rect x="{x:.0f}" y="{row_y:.0f}" width="14" height="14" fill="{fill}" '
                'stroke="#555" stroke-width="0.4"/>'
            )
        items.append(
            f'<g class="key">{swatch}'
            f'<text x="{x + 18:.0f}" y="{row_y + 11:.0f}" font-size="11">{escape(label)}</text></g>'
        )
    return '<g class="legend">' + "".join(items) + "</g>"


def nice_ceiling(value: float) -> float:
    """The round number at or above ``value`` an axis can end on, whose quarters are round too
    (1, 2, 4, 6, 8 × a power of ten: 0-20-40-60-80, never 0-12.5-25)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 4, 6, 8, 10):
        if value <= step * power + 1e-9:
            return step * power
    return 10 * power


def line_chart(
    series: dict[str, list[float | None]],
    labels: list[str],
    *,
    title: str,
    width: int = 640,
    height: int = 240,
    y_max: float | None = 1.0,
    fmt=lambda v: f"{v:.0%}",
    y_label: str = "",
    y_min: float | None = 0.0,
) -> SafeString:
    """Lines over the same x labels (gaps where a value is None), with axis labels and a legend.

    ``y_label`` names the axis's unit ("%", "requests"); ``y_max=None`` ends the axis on a round
    number above the largest value, ``y_min=None`` starts it at 0 or, below a negative value, on the
    round number under it. Lines are clipped to the plot, never drawn over the axes."""
    colours = ["#08519c", "#e6550d", "#31a354", "#756bb1", "#636363"]
    # the right margin holds half the last month's label, centred under its point
    left, right, top, bottom = 44, 26, 20 + (12 if y_label else 0), 36
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for line in series.values() for v in line if v is not None]
    top_value = y_max if y_max is not None else nice_ceiling(max(values) if values else 1.0)
    top_value = top_value or 1.0
    low = y_min if y_min is not None else 0.0
    if y_min is None and values and min(values) < 0:
        # below zero the quarters are one round step each, so the ticks stay round (-0.02 … 0.06)
        high = max(max(values), 0.0) if y_max is None else top_value
        step = nice_ceiling((high - min(values)) / 4)
        while math.floor(min(values) / step) * step + 4 * step < high - 1e-12:
            step = nice_ceiling(step * 1.01)
        low = math.floor(min(values) / step) * step
        top_value = low + 4 * step if y_max is None else top_value
    if top_value <= low:
        top_value = low + 1.0
    n = max(1, len(labels) - 1)
    # an id per picture: two charts on one page must not share a clip path
    seed = f"{title}|{series}|{labels}|{width}x{height}".encode()
    clip = "clip-" + hashlib.sha1(seed, usedforsecurity=False).hexdigest()[:10]

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + plot_w * i / n, top + plot_h * (1 - (v - low) / (top_value - low))

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" class="line-chart" font-family="{FONT}">',
        f"<title>{escape(title)}</title>",
        f'<defs><clipPath id="{clip}"><rect x="{left - 4}" y="{top - 4}" width="{plot_w + 8}" '
        f'height="{plot_h + 8}"/></clipPath></defs>',
    ]
    if y_label:
        out.append(f'<text x="4" y="12" font-size="10" class="y-label">{escape(y_label)}</text>')
    for k in range(5):
        v = low + (top_value - low) * k / 4
        _, y = xy(0, v)
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end">{escape(fmt(v))}</text>'
        )
    step = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        if i % step == 0 or i == len(labels) - 1:
            x, _ = xy(i, low)
            out.append(
                f'<text x="{x:.1f}" y="{height - bottom + 14}" font-size="9" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
    out.append(f'<g clip-path="url(#{clip})">')
    for index, (name, line) in enumerate(series.items()):
        stroke = colours[index % len(colours)]
        segments, current = [], []
        for i, v in enumerate(line):
            if v is None:
                if current:
                    segments.append(current)
                current = []
            else:
                current.append(xy(i, v))
        if current:
            segments.append(current)
        for segment in segments:
            points = " ".join(f"{x:.1f},{y:.1f}" for x, y in segment)
            out.append(f'<polyline points="{points}" fill="none" stroke="{stroke}" stroke-width="2"/>')
        for i, v in enumerate(line):
            if v is not None:
                x, y = xy(i, v)
                out.append(
                    f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{stroke}">'
                    f"<title>{escape(name)} {escape(labels[i])}: {escape(fmt(v))}</title></circle>"
                )
    out.append("</g>")
    for index, name in enumerate(series):
        stroke = colours[index % len(colours)]
        lx = left + index * 150
        out.append(
            f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{stroke}"/>'
            f'<text x="{lx + 14}" y="{height - 5}" font-size="10">{escape(name)}</text>'
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 (every interpolated text is escaped above)
