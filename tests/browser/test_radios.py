"""A radio button sits right before its words, on a wide screen and on a phone (the site's own CSS,
in Chromium)."""

from __future__ import annotations

from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "src/cityloop/web/static/web/cityloop.css"


@pytest.mark.parametrize("width", [1366, 390])
def test_each_radio_button_is_next_to_its_label(chromium, width):
    from django import forms

    from cityloop.hotline.forms import RESOLVED_CHOICES

    class Answer(forms.Form):
        resolved = forms.ChoiceField(
            label="Was the problem resolved?", choices=RESOLVED_CHOICES, widget=forms.RadioSelect
        )

    style = CSS.read_text(encoding="utf-8")
    body = f"<form class='form'>{Answer().as_div()}</form>"
    html = f"<html><head><style>{style}</style></head><body>{body}</body></html>"
    context = chromium.new_context(viewport={"width": width, "height": 800}, java_script_enabled=False)
    page = context.new_page()
    page.set_content(html)
    for radio in page.locator("input[type=radio]").all():
        box = radio.bounding_box()
        label = radio.locator("xpath=..").bounding_box()
        assert box["width"] < 40, box  # a radio, not a stretched text field
        assert box["x"] - label["x"] < 12 and label["width"] < width / 2, (box, label)
    context.close()
