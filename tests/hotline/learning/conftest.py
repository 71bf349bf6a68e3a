from __future__ import annotations

import pytest

WATER = ["停水了", "没有自来水", "家里停水", "水龙头没水", "楼里停水一整天", "小区没有水"]
CLUTTER = ["路边乱堆乱放", "楼道堆满杂物", "垃圾乱堆", "杂物乱放", "门口乱堆建材", "过道堆放杂物"]


@pytest.fixture
def model_file(settings, tmp_path):
    """A small model suggest.py loads: water outages are 02.01.01, clutter 01.01.01."""
    from cityloop.hotline.intake import classifier, suggest

    path = tmp_path / "classifier.joblib"
    classifier.train(WATER + CLUTTER, ["02.01.01"] * 6 + ["01.01.01"] * 6).save(path, key=suggest.model_key())
    settings.HOTLINE = {**settings.HOTLINE, "classifier_model": str(path)}
    return path
