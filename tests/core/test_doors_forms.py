"""core/doors/forms.run_action: one way for every page to run an action and show its refusal."""

from __future__ import annotations

import pytest
from django import forms
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from django.utils import translation

from cityloop.core.doors.forms import run_action

pytestmark = pytest.mark.django_db  # run_action opens a transaction


class NoteForm(forms.Form):
    text = forms.CharField(required=False)


def _refuse(errors):
    def action():
        raise ValidationError(errors)

    return action


@translation.override("en")
def test_a_refusal_lands_next_to_the_field_it_names_and_above_the_form_otherwise():
    form = NoteForm({"text": ""})
    assert form.is_valid()
    done = run_action(
        _refuse({"text": "a progress note cannot be empty", "order": "the order is closed"}), form=form
    )
    assert not done and done.result is None
    assert form.errors["text"] == ["a progress note cannot be empty"]
    assert form.non_field_errors() == ["order: the order is closed"]


@translation.override("en")
def test_without_a_form_the_refusal_is_a_message_in_words_without_the_codes_field_key():
    request = RequestFactory().post("/x")
    request.session = {}
    request._messages = FallbackStorage(request)
    assert not run_action(_refuse({"units": "a unit is listed twice"}), request=request, prefix="R1: ")
    assert not run_action(_refuse("already decided"), request=request)
    # "units" / "materials.bundle_form" are the code's names; a person reads the message itself
    assert [str(m) for m in get_messages(request)] == ["R1: a unit is listed twice", "already decided"]


def test_the_refusal_is_shown_in_the_pages_language():
    form = NoteForm({"text": ""})
    assert form.is_valid()
    with translation.override("zh-hans"):
        run_action(_refuse({"text": "a progress note cannot be empty"}), form=form)
    assert form.errors["text"] == ["办理进展不能为空"]


def test_an_action_that_goes_through_gives_back_its_result():
    done = run_action(lambda: ("order", 3), form=NoteForm({}))
    assert done and done.result == ("order", 3)


def test_with_nowhere_to_show_it_a_refusal_is_raised():
    with pytest.raises(ValidationError):
        run_action(_refuse({"text": "x"}))
