"""A refusal on the services pages names the material in the page's language, never an internal key."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.utils import translation

from cityloop.core.doors.forms import errors_in_english
from cityloop.services import actions
from tests.services.test_applications import start

pytestmark = pytest.mark.django_db


def test_missing_materials_are_named_in_chinese_on_the_page_and_in_english_for_the_api(
    citizen_wang, items, monday
):
    app = start(citizen_wang, items["WATER-1"])
    actions.answer_situations(app, {"premises": "leased"}, actor=citizen_wang)
    with pytest.raises(ValidationError) as refused:
        actions.submit_application(app, actor=citizen_wang)
    with translation.override("zh-hans"):
        shown = [str(m) for m in refused.value.messages]
    assert "房屋租赁合同：尚未提供" in shown and not any("materials." in m for m in shown)
    english = errors_in_english(refused.value)
    assert english["materials.premises"] == ["房屋租赁合同: still missing"]
