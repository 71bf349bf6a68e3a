"""The dashboard's two overdue figures say what each counts, so they never seem to contradict."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("language", "period", "now"),
    [
        ("zh-hans", "超期（本期受理的诉求）", "当前超期工单 0 张"),
        ("en", "Overdue (of these months' requests)", "0 orders overdue right now"),
    ],
)
def test_the_period_figure_and_the_right_now_list_are_named_apart(
    client, city, leader_sun, language, period, now
):
    client.force_login(leader_sun)
    page = client.get("/leaders/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    assert period in page and now in page
