"""Charts and maps rendered as SVG on the server (no JavaScript, no CDN)."""

from __future__ import annotations

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


def project_shapes(shapes: list[Shape], *, width: int = 640, height: int = 480) -> list[tuple[str, str, str]]:
    """(key, label, SVG path) per shape, simplified to the pixel; cache it, only the fills change."""
    if not shapes:
        return []
    union_bounds = shapely.total_bounds([s.geometry for s in shapes])
    project, scale = _projector(union_bounds, width, height - 40)
    tolerance = 0.6 / scale  # drop detail finer than about half a pixel
    return [
        (s.key, s.label, _path(s.geometry.simplify(tolerance, preserve_topology=True), project))
        for s in shapes
    ]


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
) -> SafeString:
    """A filled map from ``project_shapes``: a hover title per area with its value, and a legend below
    the map (its own rows, never cut off). ``worse`` says which end is bad (``"low"``/``"high"``): that
    end is dark red. Areas without data are hatched."""
    if not paths:
        return mark_safe("")
    present = [v for v in values.values() if v is not None]
    edges = bucket_edges(present) if present else []
    palette = palette_for(worse)
    legend = _legend(edges, present, fmt, no_data, palette, y=height + 8, width=width)
    keys = (len(palette) if present else 0) + 1  # a key per colour, and one for "no data"
    rows = -(-keys // LEGEND_PER_ROW)  # ceiling: the legend's own rows
    total = height + 12 + rows * LEGEND_ROW
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {total}" role="img" '
        f'aria-label="{escape(title)}" class="choropleth" font-family="{FONT}">',
        f"<title>{escape(title)}</title>",
        HATCH,
    ]
    for key, label, d in paths:
        value = values.get(key)
        text = f"{label}: {fmt(value) if value is not None else no_data}"
        fill = colour(value, edges, palette) if value is not None else NO_DATA_FILL
        out.append(
            f'<path d="{d}" fill="{fill}" stroke="#555" stroke-width="0.4" '
            f'data-key="{escape(key)}"><title>{escape(text)}</title></path>'
        )
    out.append(legend)
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 (every interpolated text is escaped above)


LEGEND_PER_ROW = 4
LEGEND_ROW = 20


def _legend(edges, present, fmt, no_data: str, palette: Sequence[str], *, y: float, width: int) -> str:
    keys: list[tuple[str, str]] = []
    if present:
        low, high = min(present), max(present)
        bounds = [low, *edges, high]
        for i, fill in enumerate(palette):
            label = f"{fmt(bounds[i])}–{fmt(bounds[i + 1])}" if i + 1 < len(bounds) else fmt(bounds[-1])
            keys.append((fill, label))
    keys.append((NO_DATA_FILL, no_data))
    step = (width - 16) / LEGEND_PER_ROW
    items = []
    for n, (fill, label) in enumerate(keys):
        x, row_y = 8 + step * (n % LEGEND_PER_ROW), y + LEGEND_ROW * (n // LEGEND_PER_ROW)
        items.append(
            f'<g class="key"><rect x="{x:.0f}" y="{row_y:.0f}" width="14" height="14" fill="{fill}" '
            'stroke="#555" stroke-width="0.4"/>'
            f'<text x="{x + 18:.0f}" y="{row_y + 11:.0f}" font-size="11">{escape(label)}</text></g>'
        )
    return '<g class="legend">' + "".join(items) + "</g>"


def line_chart(
    series: dict[str, list[float | None]],
    labels: list[str],
    *,
    title: str,
    width: int = 640,
    height: int = 240,
    y_max: float | None = 1.0,
    fmt=lambda v: f"{v:.0%}",
) -> SafeString:
    """Lines over the same x labels (gaps where a value is None), with axis labels and a legend."""
    colours = ["#08519c", "#e6550d", "#31a354", "#756bb1", "#636363"]
    left, right, top, bottom = 44, 10, 20, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    values = [v for line in series.values() for v in line if v is not None]
    top_value = y_max if y_max is not None else (max(values) if values else 1.0) or 1.0
    n = max(1, len(labels) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return left + plot_w * i / n, top + plot_h * (1 - v / top_value)

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" class="line-chart" font-family="{FONT}">',
        f"<title>{escape(title)}</title>",
    ]
    for k in range(5):
        v = top_value * k / 4
        _, y = xy(0, v)
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end">{escape(fmt(v))}</text>'
        )
    step = max(1, len(labels) // 8)
    for i, label in enumerate(labels):
        if i % step == 0 or i == len(labels) - 1:
            x, _ = xy(i, 0)
            out.append(
                f'<text x="{x:.1f}" y="{height - bottom + 14}" font-size="9" '
                f'text-anchor="middle">{escape(label)}</text>'
            )
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
        lx = left + index * 150
        out.append(
            f'<rect x="{lx}" y="{height - 14}" width="10" height="10" fill="{stroke}"/>'
            f'<text x="{lx + 14}" y="{height - 5}" font-size="10">{escape(name)}</text>'
        )
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 (every interpolated text is escaped above)
