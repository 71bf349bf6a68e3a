"""The audit page's summary column: every stored value readable as a key and a value, never raw JSON."""

from __future__ import annotations

import json

from cityloop.web.templatetags.audit_format import MAX_PAIRS, summary_pairs, summary_whole


def test_nested_values_become_dotted_keys_with_plain_values():
    summary = {
        "before": {"status": "pending", "address": None},
        "after": {"status": "signed", "address": "朝阳区双井街道", "tags": ["水", "电"]},
        "items": [{"code": "A1"}, {"code": "B2"}],
        "reason": "",
    }
    assert summary_pairs(json.dumps(summary, ensure_ascii=False)) == [
        ("before.status", "pending"),
        ("before.address", "—"),
        ("after.status", "signed"),
        ("after.address", "朝阳区双井街道"),
        ("after.tags", "水, 电"),
        ("items.0.code", "A1"),
        ("items.1.code", "B2"),
        ("reason", ""),
    ]


def test_no_value_is_shown_as_json_and_long_ones_are_cut():
    pairs = summary_pairs(json.dumps({"after": {"note": "x" * 500, "empty": {}}}))
    assert pairs[0] == ("after.note", "x" * 119 + "…")
    assert pairs[1] == ("after.empty", "{}")
    assert not any(value.startswith(('{"', "[{")) for _, value in pairs)


def test_a_huge_summary_says_how_much_is_left_out_and_bad_json_is_shown_as_text():
    pairs = summary_pairs(json.dumps({f"k{i}": i for i in range(MAX_PAIRS + 5)}))
    assert len(pairs) == MAX_PAIRS + 1 and pairs[-1] == ("…", "+5")
    assert summary_pairs("not json") == [("", "not json")]
    assert summary_pairs("[1, 2]") == [("", "[1, 2]")]


def test_a_shortened_summary_offers_the_whole_record_and_a_short_one_does_not():
    short = json.dumps({"before": "pending", "after": {"status": "signed"}})
    assert summary_whole(short) == ""
    long_value = json.dumps({"after": {"note": "x" * 500}})
    assert "x" * 500 in summary_whole(long_value)
    many = json.dumps({f"k{i}": i for i in range(MAX_PAIRS + 5)})
    assert f'"k{MAX_PAIRS + 4}": {MAX_PAIRS + 4}' in summary_whole(many)
    assert summary_whole("not json " + "y" * 300).endswith("y" * 300)
