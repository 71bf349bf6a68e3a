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
NO_DATA = "#e8e8e8"


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


def colour(value: float | None, edges: list[float]) -> str:
    if value is None:
        return NO_DATA
    index = sum(value > edge for edge in edges)
    return PALETTE[min(index, len(PALETTE) - 1)]


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
    width: int = 640,
    height: int = 480,
) -> SafeString:
    """A filled map from ``project_shapes``: a hover title per area with its value, and a legend."""
    if not paths:
        return mark_safe("")
    present = [v for v in values.values() if v is not None]
    edges = bucket_edges(present) if present else []
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" class="choropleth" font-family="{FONT}">',
        f"<title>{escape(title)}</title>",
    ]
    for key, label, d in paths:
        value = values.get(key)
        text = f"{label}: {fmt(value) if value is not None else no_data}"
        out.append(
            f'<path d="{d}" fill="{colour(value, edges)}" stroke="#555" stroke-width="0.4" '
            f'data-key="{escape(key)}"><title>{escape(text)}</title></path>'
        )
    out.append(_legend(edges, present, fmt, no_data, y=height - 30))
    out.append("</svg>")
    return mark_safe("".join(out))  # noqa: S308 (every interpolated text is escaped above)


def _legend(edges, present, fmt, no_data: str, *, y: float) -> str:
    items = []
    x = 8
    if present:
        low, high = min(present), max(present)
        bounds = [low, *edges, high]
        for i, fill in enumerate(PALETTE):
            label = f"{fmt(bounds[i])}–{fmt(bounds[i + 1])}" if i + 1 < len(bounds) else fmt(bounds[-1])
            items.append(
                f'<rect x="{x}" y="{y}" width="14" height="14" fill="{fill}" stroke="#555" '
                'stroke-width="0.4"/>'
                f'<text x="{x + 18}" y="{y + 11}" font-size="10">{escape(label)}</text>'
            )
            x += 100
    items.append(
        f'<rect x="{x}" y="{y}" width="14" height="14" fill="{NO_DATA}" stroke="#555" stroke-width="0.4"/>'
        f'<text x="{x + 18}" y="{y + 11}" font-size="10">{escape(no_data)}</text>'
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
