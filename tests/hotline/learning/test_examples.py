"""Every dispatcher decision on a category is kept as a labelled example, one per request."""

from __future__ import annotations

from cityloop.core.actors import SYSTEM
from cityloop.core.models import AuditRecord
from cityloop.hotline import actions
from cityloop.hotline.intake import suggest
from cityloop.hotline.models import LabelledExample
from cityloop.org.models import Category


def test_an_accepted_suggestion_is_kept_as_a_confirmed_label(submit, dispatcher_li, model_file):
    request = submit(category="", description="楼里停水了，一整天没有水")
    assert request.suggested_category.code == "02.01.01"
    actions.accept_suggestion(request, actor=dispatcher_li)
    example = LabelledExample.objects.get()
    assert example.request_id == request.pk
    assert (example.category_code, example.suggested_code, example.accepted) == ("02.01.01", "02.01.01", True)
    assert "停水" in example.text and example.decided_by == dispatcher_li
    assert example.model_version == suggest.model_version() != ""
    assert AuditRecord.objects.filter(action="classifier.example", object_id=str(request.pk)).count() == 1


def test_a_changed_category_is_kept_once_and_the_last_decision_wins(submit, dispatcher_li, city, model_file):
    request = submit(category="", description="楼里停水了，一整天没有水")
    actions.classify_request(request, Category.objects.get(city=city, code="01.01.01"), actor=dispatcher_li)
    actions.classify_request(request, Category.objects.get(city=city, code="02.01.02"), actor=dispatcher_li)
    actions.accept_suggestion(request, actor=dispatcher_li)  # dispatched on the category chosen last
    example = LabelledExample.objects.get()
    assert (example.category_code, example.suggested_code) == ("02.01.02", "02.01.01")
    assert not example.accepted
    records = AuditRecord.objects.filter(action="classifier.example", object_id=str(request.pk))
    assert records.count() == 2  # the two changes; dispatching on the same category adds nothing


def test_a_category_set_by_the_system_is_not_a_labelled_example(submit, city):
    request = submit(category="", description="楼里停水了")
    actions.classify_request(request, Category.objects.get(city=city, code="02.01.01"), actor=SYSTEM)
    assert LabelledExample.objects.count() == 0
