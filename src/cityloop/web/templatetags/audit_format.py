"""An audit record's summary as readable pairs instead of one line of JSON."""

from __future__ import annotations

import json

from django import template

register = template.Library()

VALUE_CHARS = 120


def _short(value) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= VALUE_CHARS else text[: VALUE_CHARS - 1] + "…"


@register.filter
def summary_pairs(summary: str) -> list[tuple[str, str]]:
    """``{"before": "pending", "after": "signed"}`` → [("before", "pending"), ("after", "signed")];
    a summary that is not a JSON object is one pair with an empty key."""
    try:
        found = json.loads(summary or "{}")
    except ValueError:
        return [("", _short(summary))]
    if not isinstance(found, dict):
        return [("", _short(found))]
    return [(str(key), _short(value)) for key, value in found.items()]
