"""The text rule every intake door applies (core/text.py)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from hypothesis import given
from hypothesis import strategies as st

from cityloop.core.text import clean_line, clean_text, xml_safe


def test_control_characters_and_nuls_are_removed_and_line_breaks_unified():
    assert clean_text("路灯\x00不亮\x01\r\n第二行\r第三行\x7f\x85") == "路灯不亮\n第二行\n第三行"
    assert clean_text("  tabs\tstay  ") == "tabs\tstay"
    assert clean_text(None) == ""


def test_single_line_fields_turn_line_breaks_into_spaces():
    assert clean_line("朝阳区\n建国路\t88号") == "朝阳区 建国路 88号"


def test_lone_surrogates_and_non_characters_are_removed_and_text_is_nfc():
    assert clean_text("a\ud800b\ufffec") == "abc"
    assert clean_text("e\u0301") == "\u00e9"


@given(st.text())
def test_whatever_is_cleaned_fits_an_xml_document_and_utf8(value):
    cleaned = clean_text(value)
    cleaned.encode("utf-8")
    assert ET.fromstring(f"<d>{xml_safe(cleaned).replace('&', '&amp;').replace('<', '&lt;')}</d>") is not None
    assert "\x00" not in cleaned


@given(st.text())
def test_xml_safe_text_always_parses(value):
    text = xml_safe(value).replace("&", "&amp;").replace("<", "&lt;")
    ET.fromstring(f"<d>{text}</d>".encode("utf-8", "surrogatepass"))
