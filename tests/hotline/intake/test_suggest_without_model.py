"""Issue 17 #3 "a suggestion for every channel": without a classifier model (a fresh install, the demo
loaded with ``cityloop demo --load-only``) a request filed without a category still gets a suggested
category, and so a suggested unit on the queue; the pages say it is a text match, not the classifier."""

from __future__ import annotations

import pytest

from cityloop.hotline import queries
from cityloop.hotline.handling.dispatch import suggestions_for
from cityloop.hotline.intake import suggest
from cityloop.hotline.models import Channel

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_model(settings, tmp_path):
    settings.HOTLINE = {**settings.HOTLINE, "classifier_model": str(tmp_path / "absent.joblib")}
    assert suggest.current_model() is None


@pytest.mark.parametrize("channel", [Channel.PHONE, Channel.WEB, Channel.API])
def test_an_unclassified_request_gets_a_suggestion_by_the_category_names(submit, channel):
    request = submit(category="", channel=channel, description="家门口乱堆乱放的杂物没人清理")
    assert request.category is None
    assert request.suggested_category.code == "01.01.01"  # 乱堆乱放
    assert request.suggestion_confidence is None  # not the classifier's: no confidence to show


def test_an_earlier_classified_request_alike_wins_over_the_names(submit):
    submit(category="01.01.02", description="人行道上有人摆摊卖水果")
    request = submit(category="", description="人行道上又有人摆摊了")
    assert request.suggested_category.code == "01.01.02"


def test_every_row_of_the_queue_gets_a_suggested_unit_and_says_where_it_comes_from(
    client, city, submit, dispatcher_li
):
    rows = [
        submit(category="", description=text, channel=channel)
        for text, channel in [
            ("小区楼里停水一整天了，也没有通知", Channel.PHONE),
            ("家里水压低，热水器打不着火", Channel.WEB),
            ("楼下有人占道经营", Channel.API),
        ]
    ]
    pending = list(queries.dispatch_queue(city))
    assert {r.pk for r in rows} <= {r.pk for r in pending}
    assert all(suggestions_for(pending)[r.pk] for r in pending)
    client.force_login(dispatcher_li)
    page = client.get("/hotline/dispatch/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "在详情页选择" not in page and "choose on the detail page" not in page
    assert page.count("文字匹配") == len(rows)


def test_a_text_sharing_nothing_gets_no_made_up_suggestion(city):
    assert suggest.suggest(city, "12345") == (None, None)
