"""An audit record's summary as readable pairs instead of one line of JSON."""

from __future__ import annotations

import json

from django import template

register = template.Library()

VALUE_CHARS = 120
MAX_PAIRS = 40  # a summary with more leaves (a whole pack's tuning) ends with "… N more"


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


def _leaves(key: str, value, out: list[tuple[str, str]]) -> None:
    """Nested objects become dotted keys (``after.address``) and lists of objects numbered ones
    (``items.0.code``); a list of plain values is one comma-separated value; ``null`` is "—"."""
    if isinstance(value, dict) and value:
        for name, inner in value.items():
            _leaves(f"{key}.{name}" if key else str(name), inner, out)
    elif isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
        for i, inner in enumerate(value):
            _leaves(f"{key}.{i}" if key else str(i), inner, out)
    elif isinstance(value, list):
        out.append((key, _short(", ".join("—" if v is None else str(v) for v in value))))
    else:
        out.append((key, "—" if value is None else _short(value)))


@register.filter
def summary_pairs(summary: str) -> list[tuple[str, str]]:
    """``{"before": "pending", "after": {"status": "signed"}}`` → [("before", "pending"),
    ("after.status", "signed")]; a summary that is not a JSON object is one pair with an empty key."""
    try:
        found = json.loads(summary or "{}")
    except ValueError:
        return [("", _short(summary))]
    if not isinstance(found, dict):
        return [("", _short(found))]
    pairs: list[tuple[str, str]] = []
    _leaves("", found, pairs)
    if len(pairs) > MAX_PAIRS:
        return [*pairs[:MAX_PAIRS], ("…", f"+{len(pairs) - MAX_PAIRS}")]
    return pairs


@register.filter
def summary_whole(summary: str) -> str:
    """The whole stored summary, indented, when ``summary_pairs`` had to shorten it (a value cut at
    VALUE_CHARS, or more than MAX_PAIRS leaves); "" when the pairs already show all of it. The auditor
    then loses nothing: the page offers this under a closed <details>."""
    try:
        found = json.loads(summary or "{}")
    except ValueError:
        return summary if len(summary) > VALUE_CHARS else ""
    shown = summary_pairs(summary)
    if not any(value.endswith("…") for _, value in shown) and (not shown or shown[-1][0] != "…"):
        return ""
    return json.dumps(found, ensure_ascii=False, indent=2, sort_keys=True)
