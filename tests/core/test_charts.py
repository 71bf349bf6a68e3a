"""The leaders' map: the bad end is dark red, no data is hatched (never a pale value), the legend fits."""

from __future__ import annotations

import re

import shapely

from cityloop.core.doors import charts


def _squares(n: int) -> list[charts.Shape]:
    return [charts.Shape(str(i), f"街道{i}", shapely.box(i, 0, i + 0.9, 1)) for i in range(n)]


def _fills(svg: str) -> dict[str, str]:
    """data-key → fill of every area."""
    found = re.findall(r'<path d="[^"]*" fill="([^"]*)"[^>]*data-key="([^"]*)"', svg)
    return {key: fill for fill, key in found}


def test_a_low_satisfaction_is_dark_red_the_best_is_pale_and_no_data_is_hatched():
    paths = charts.project_shapes(_squares(3))
    svg = str(charts.choropleth(paths, {"0": 0.0, "1": 0.9, "2": None}, title="满意率", worse="low"))
    fills = _fills(svg)
    assert fills["0"] == charts.WORST_FIRST[0]  # 0 % is the darkest red, not almost white
    assert fills["1"] == charts.WORST_FIRST[-1]
    assert fills["2"] == charts.NO_DATA_FILL and f'<pattern id="{charts.HATCH_ID}"' in svg


def test_for_an_overdue_rate_the_high_end_is_red():
    paths = charts.project_shapes(_squares(2))
    fills = _fills(str(charts.choropleth(paths, {"0": 0.0, "1": 0.5}, title="超期率", worse="high")))
    assert (fills["0"], fills["1"]) == (charts.WORST_FIRST[-1], charts.WORST_FIRST[0])


def test_every_legend_key_lies_inside_the_picture():
    paths = charts.project_shapes(_squares(6), width=640, height=480)
    values = {str(i): i / 10 for i in range(5)}
    svg = str(
        charts.choropleth(paths, values, title="t", no_data="无数据", worse="low", width=640, height=480)
    )
    width, height = (float(v) for v in re.search(r'viewBox="0 0 (\S+) (\S+)"', svg).groups())
    keys = re.findall(r'<g class="key"><rect x="(\d+)" y="(\d+)"', svg)
    assert len(keys) == len(charts.WORST_FIRST) + 1 and "无数据" in svg
    assert all(int(x) + 100 <= width and int(y) + 14 <= height for x, y in keys)
