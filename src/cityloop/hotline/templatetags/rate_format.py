from django import template
from django.utils.translation import gettext as _

register = template.Library()


@register.filter
def pct(value, digits: int = 1):
    """0.5386 → "53.9%"; no data → "—" (never a fake 0%)."""
    if value is None or value == "":
        return "—"
    return f"{float(value) * 100:.{int(digits)}f}%"


@register.filter
def pp(value):
    """A change in percentage points with its sign: +1.2 pp."""
    if value is None:
        return "—"
    return f"{float(value) * 100:+.1f} " + _("pp")


@register.filter
def get(mapping, key):
    return mapping.get(key) if mapping else None
