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


def test_a_linked_map_wraps_each_area_in_a_link_and_names_the_areas_that_fit():
    frame = charts.project_frame(_squares(3))
    svg = str(
        charts.choropleth(
            frame.paths,
            {"0": 0.5, "1": None},
            title="t",
            links={"0": "/a?x=1&y=2", "1": "/b"},
            anchors=frame.anchors,
        )
    )
    assert 'role="group"' in svg and 'role="img"' not in svg  # links inside an image would be hidden
    assert '<a href="/a?x=1&amp;y=2" aria-label="街道0: 50.0%"><path' in svg
    assert '<a href="/b" aria-label="街道1: no data"><path' in svg
    assert re.search(r'<path d="[^"]*" fill="[^"]*" [^>]*data-key="2"', svg) and '<a href="/c"' not in svg
    assert re.findall(r'data-key="(\d)">(街道\d)</text>', svg) == [
        ("0", "街道0"),
        ("1", "街道1"),
        ("2", "街道2"),
    ]


def test_labels_that_would_overlap_are_left_out_largest_area_first():
    anchors = {"big": (100.0, 100.0, 900.0), "small": (104.0, 102.0, 10.0), "apart": (300.0, 100.0, 5.0)}
    labels = {"big": "朝阳区", "small": "东城区", "apart": "西城区"}
    placed = charts.place_labels(anchors, labels, size=12, width=640, height=480)
    assert [key for key, _x, _y in placed] == ["big", "apart"]
    # a label that would leave the picture is left out too
    assert (
        charts.place_labels(
            {"edge": (2.0, 50.0, 1.0)}, {"edge": "很长的街道名称"}, size=12, width=640, height=480
        )
        == []
    )


def test_markers_sit_where_their_longitude_and_latitude_fall_with_a_legend_key():
    frame = charts.project_frame(_squares(2))
    x, y = frame.point(0.45, 0.5)
    assert frame.point(50.0, 0.5) is None  # far outside: not drawn
    svg = str(
        charts.choropleth(
            frame.paths,
            {"0": 0.2, "1": 0.4},
            title="t",
            markers=[charts.Marker(x, y, "W1 · 泄漏", "/brain/devices/W1/")],
            marker_key="未结传感器告警",
        )
    )
    assert f'<a href="/brain/devices/W1/" aria-label="W1 · 泄漏"><path d="M{x:.1f},{y - 7:.1f}' in svg
    assert f'fill="{charts.MARKER_FILL}"' in svg and ">未结传感器告警</text>" in svg
    d = re.search(r'<path d="([^"]*)" fill="[^"]*" [^>]*data-key="0"', svg).group(1)
    xs = [float(v) for v in re.findall(r"[ML]([\d.]+),", d)]
    ys = [float(v) for v in re.findall(r",([\d.]+)", d)]
    assert min(xs) < x < max(xs) and min(ys) < y < max(ys)  # inside the square it lies in


def test_a_line_chart_names_its_unit_clips_its_lines_and_ends_on_a_round_number():
    svg = str(
        charts.line_chart({"件": [3, 13, None, 7]}, ["1", "2", "3", "4"], title="t", y_max=None, y_label="件")
    )
    assert 'class="y-label">件</text>' in svg
    clip = re.search(r'<clipPath id="([^"]+)">', svg).group(1)
    assert f'<g clip-path="url(#{clip})"><polyline' in svg
    assert svg.count("<polyline") == 2  # a gap where the value is missing
    assert [charts.nice_ceiling(v) for v in (0, 3, 13, 41, 700, 0.9)] == [1.0, 4, 20, 60, 800, 1.0]
    other = str(charts.line_chart({"件": [1, 2]}, ["1", "2"], title="u", y_label="件"))
    assert re.search(r'<clipPath id="([^"]+)">', other).group(1) != clip  # two charts on a page
