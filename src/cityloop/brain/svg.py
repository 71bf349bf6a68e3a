"""Charts as inline SVG, drawn on the server (no JavaScript): a heat map and line charts."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from django.utils.html import escape

FONT = "'Noto Sans CJK SC','Source Han Sans SC','PingFang SC','Microsoft YaHei',sans-serif"
HATCH = "brain-no-data"  # the heat map's hatching for a cell without readings
PALETTE = ["#1f6feb", "#d9480f", "#2b8a3e", "#ae3ec9", "#e67700", "#0c8599", "#5c7cfa", "#868e96"]


def _shade(x: float) -> str:
    """White → deep blue for 0..1."""
    x = min(max(x, 0.0), 1.0)
    r, g, b = (int(255 + (t - 255) * x) for t in (21, 101, 192))
    return f"#{r:02x}{g:02x}{b:02x}"


def heatmap(
    rows: Sequence[str],
    columns: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    title: str,
    unit: str = "",
    days: Sequence[str] = (),
    no_data: str = "no data",
) -> str:
    """Rows × columns of cells shaded from the lowest value to the highest, each with a <title> tooltip
    naming its value and ``unit``; a cell without data (None) is hatched grey, never a pale shade that
    reads as a value. ``days`` (one per column) are written above the hour where the day changes."""
    cell_w, cell_h, left, top = 22, 18, 150, 40
    width = left + cell_w * len(columns) + 10
    height = top + cell_h * len(rows) + 30
    present = [v for row in values for v in row if v is not None and math.isfinite(v)]
    lo, hi = (min(0.0, min(present)), max(present)) if present else (0.0, 1.0)
    if hi <= lo:
        hi = lo + 1.0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="brain-chart heatmap" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" font-family="{FONT}" '
        'font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<defs><pattern id="{HATCH}" width="6" height="6" patternUnits="userSpaceOnUse" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#f2f2f2"/>'
        '<line x1="0" y1="0" x2="0" y2="6" stroke="#9a9a9a" stroke-width="1.5"/></pattern></defs>',
    ]
    for j, col in enumerate(columns):
        x = left + j * cell_w + cell_w / 2
        if j < len(days) and (j == 0 or days[j] != days[j - 1]):
            parts.append(
                f'<text x="{x - cell_w / 2}" y="{top - 24}" class="day">{escape(days[j])}</text>'
                f'<line x1="{x - cell_w / 2}" y1="{top - 20}" x2="{x - cell_w / 2}" y2="{top}" '
                'stroke="#999"/>'
            )
        if j % 3 == 0:
            parts.append(f'<text x="{x}" y="{top - 6}" text-anchor="middle">{escape(col)}</text>')
    for i, name in enumerate(rows):
        y = top + i * cell_h
        parts.append(f'<text x="{left - 6}" y="{y + cell_h - 5}" text-anchor="end">{escape(name)}</text>')
        for j, v in enumerate(values[i]):
            x = left + j * cell_w
            if v is not None and math.isfinite(v):
                fill, figure = _shade((v - lo) / (hi - lo)), f"{v:.4g} {unit}".strip()
            else:
                fill, figure = f"url(#{HATCH})", no_data
            parts.append(
                f'<rect x="{x}" y="{y}" width="{cell_w - 1}" height="{cell_h - 1}" fill="{fill}">'
                f"<title>{escape(name)} {escape(columns[j])}: {escape(figure)}</title></rect>"
            )
    legend = f"{lo:.4g}"
    parts.append(f'<text x="{left}" y="{height - 8}" text-anchor="end">{escape(legend)}</text>')
    for k in range(10):
        parts.append(
            f'<rect x="{left + 4 + k * 12}" y="{height - 18}" width="12" height="10" fill="{_shade(k / 9)}"/>'
        )
    parts.append(
        f'<text x="{left + 4 + 10 * 12 + 4}" y="{height - 8}">{escape(f"{hi:.4g} {unit}".strip())}</text>'
        f'<rect x="{left + 220}" y="{height - 18}" width="12" height="10" fill="url(#{HATCH})" '
        f'stroke="#999" stroke-width="0.5"/><text x="{left + 236}" y="{height - 8}">{escape(no_data)}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def lines(
    series: dict[str, Sequence[float]],
    labels: Sequence[str],
    *,
    title: str,
    y_label: str = "",
    width: int = 720,
    height: int = 220,
) -> str:
    """One polyline per series over shared x labels, on a y axis from the lowest value to the highest
    that ``y_label`` names (its unit). A value outside the axis is drawn on its edge, never off the plot."""
    left, right, top, bottom = 48, 110, 14 + (12 if y_label else 0), 26
    pw, ph = width - left - right, height - top - bottom
    n = max((len(v) for v in series.values()), default=0)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="brain-chart lines" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" font-family="{FONT}" '
        'font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#ddd"/>',
    ]
    if y_label:
        parts.append(f'<text x="4" y="12" class="y-label">{escape(y_label)}</text>')
    finite = [x for v in series.values() for x in v if x is not None and math.isfinite(x)]
    lo, hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
    if hi == lo:
        hi = lo + 1.0
    # The y axis: three ticks with grid lines.
    for frac in (0.0, 0.5, 1.0):
        y = top + ph * (1 - frac)
        tick = f"{lo + (hi - lo) * frac:.4g}"
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#eee"/>'
            f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{escape(tick)}</text>'
        )
    parts.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + ph}" stroke="#999"/>')
    step = max(1, n // 8)
    for j in range(0, n, step):
        if j < len(labels):
            x = left + (pw * j / max(n - 1, 1))
            parts.append(
                f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle">{escape(labels[j])}</text>'
            )
    for k, (name, values) in enumerate(series.items()):
        color = PALETTE[k % len(PALETTE)]
        points = []
        for j, v in enumerate(values):
            if v is None or not math.isfinite(v):
                continue
            y01 = min(max((v - lo) / (hi - lo), 0.0), 1.0)
            points.append(f"{left + pw * j / max(n - 1, 1):.1f},{top + ph * (1 - y01):.1f}")
        if points:
            parts.append(
                f'<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{" ".join(points)}">'
                f"<title>{escape(name)}</title></polyline>"
            )
        parts.append(
            f'<rect x="{width - right + 8}" y="{top + 4 + k * 16}" width="10" height="10" fill="{color}"/>'
            f'<text x="{width - right + 22}" y="{top + 13 + k * 16}">{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def marked(
    ts: Sequence[float],
    values: Sequence[float],
    *,
    start: float,
    end: float,
    mark: float,
    label: Callable[[float], str],
    title: str,
    mark_label: str,
    empty: str,
    y_label: str = "",
    width: int = 360,
    height: int = 140,
) -> str:
    """A small line of readings on a time axis from ``start`` to ``end`` (epoch s), with a red line at
    ``mark`` (the alarm), on a y axis that ``y_label`` names (its unit).  Readings are placed by their
    time, so a gap in the data shows as a gap."""
    left, right, top, bottom = 44, 10, 18 + (12 if y_label else 0), 22
    pw, ph = width - left - right, height - top - bottom
    span = max(end - start, 1.0)

    def x_of(t: float) -> float:
        return left + pw * min(max((t - start) / span, 0.0), 1.0)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="brain-chart alarm-chart" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" font-family="{FONT}" '
        'font-size="10">',
        f"<title>{escape(title)}</title>",
        f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#ddd"/>',
    ]
    if y_label:
        parts.append(f'<text x="4" y="11" class="y-label">{escape(y_label)}</text>')
    points = [(t, v) for t, v in zip(ts, values, strict=False) if v is not None and math.isfinite(v)]
    if points:
        lo, hi = min(v for _t, v in points), max(v for _t, v in points)
        if hi == lo:
            lo, hi = lo - 0.5, hi + 0.5
        for frac in (0.0, 1.0):
            y = top + ph * (1 - frac)
            parts.append(
                f'<text x="{left - 4}" y="{y + 3:.1f}" text-anchor="end">'
                f"{escape(f'{lo + (hi - lo) * frac:.4g}')}</text>"
            )
        coords = " ".join(f"{x_of(t):.1f},{top + ph * (1 - (v - lo) / (hi - lo)):.1f}" for t, v in points)
        parts.append(f'<polyline fill="none" stroke="{PALETTE[0]}" stroke-width="1.5" points="{coords}"/>')
    else:
        parts.append(
            f'<text x="{left + pw / 2}" y="{top + ph / 2}" text-anchor="middle" fill="#868e96">'
            f"{escape(empty)}</text>"
        )
    for t, anchor in ((start, "start"), (end, "end")):
        parts.append(
            f'<text x="{x_of(t):.1f}" y="{height - 6}" text-anchor="{anchor}">{escape(label(t))}</text>'
        )
    xm = x_of(mark)
    parts.append(
        f'<line class="alarm-mark" x1="{xm:.1f}" y1="{top}" x2="{xm:.1f}" y2="{top + ph}" '
        f'stroke="#e03131" stroke-width="1.5" stroke-dasharray="4 2"><title>{escape(mark_label)} '
        f"{escape(label(mark))}</title></line>"
        f'<text x="{xm:.1f}" y="{top - 5}" text-anchor="middle" fill="#e03131">'
        f"{escape(mark_label)} {escape(label(mark))}</text>"
    )
    parts.append("</svg>")
    return "".join(parts)
