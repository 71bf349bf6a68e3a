from __future__ import annotations

import pytest

from cityloop.core.actors import SYSTEM
from cityloop.hotline import actions
from cityloop.hotline.actions import Submission
from cityloop.hotline.models import Channel


@pytest.fixture
def submit(city, tiny_places):
    """File a request at a named place of the tiny city (default: 金融街 street D1S1, water outage)."""

    def make(place: str = "D1S1C1", category: str = "02.01.01", channel: str = Channel.PHONE, **overrides):
        lon, lat = tiny_places[place]
        fields = {
            "description": "楼里停水了，一整天没有水",
            "caller_name": "王小明",
            "caller_phone": "13812345678",
            "lon": lon,
            "lat": lat,
            "category_code": category,
        }
        fields.update(overrides)
        request, _ = actions.submit_request(Submission(**fields), city=city, channel=channel, actor=SYSTEM)
        return request

    return make
