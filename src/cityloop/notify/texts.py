"""What each message says, in Chinese and English: one subject and one text per event.

Texts are gettext strings with named parameters, rendered in the recipient's language when the
message is queued (the outbox keeps the rendered text and the parameters; an SMS provider gets only
the parameters, for its own approved template). ``URGENT`` events go through quiet hours and digests.
"""

from __future__ import annotations

from typing import Any

from django.utils import translation
from django.utils.translation import gettext_lazy as _

TEXTS: dict[str, tuple[Any, Any]] = {
    # citizens
    "request.received": (
        _("Request %(no)s received"),
        _(
            "Your request %(no)s was received. Your access code is %(code)s: with the tracking number it "
            "opens the status page at /hotline/track/. Do not share it."
        ),
    ),
    "request.replied": (
        _("Request %(no)s answered"),
        _("Request %(no)s has been answered: %(reply)s See the status page at /hotline/track/."),
    ),
    "request.rating_link": (
        _("Was request %(no)s resolved?"),
        _(
            "Request %(no)s has been answered. Tell us if it was resolved: open /hotline/rate/%(code)s/ "
            "(valid %(days)d days, once)."
        ),
    ),
    "request.reopened": (
        _("Request %(no)s reopened"),
        _("Request %(no)s was reopened and is being handled again: %(reason)s"),
    ),
    "application.correction": (
        _("Application %(no)s needs corrections"),
        _("Application %(no)s for %(service)s needs corrections: %(reason)s Open %(link)s to correct it."),
    ),
    "certificate.issued": (
        _("Certificate for %(no)s issued"),
        _(
            "Your certificate for application %(no)s (%(service)s) was issued. Anyone can verify it "
            "at %(link)s"
        ),
    ),
    # staff
    "order.new": (
        _("New order %(no)s"),
        _(
            "Your unit %(unit)s has a new order for request %(no)s (%(category)s): respond by "
            "%(respond_due)s."
        ),
    ),
    "whistle.summons": (
        _("Whistle: report in by %(deadline)s"),
        _("%(street)s blew the whistle on request %(no)s and summons %(unit)s to report in by %(deadline)s."),
    ),
    "order.due_soon": (
        _("Order %(no)s: %(what)s due %(due)s"),
        _("Order %(no)s for %(unit)s must %(what)s by %(due)s."),
    ),
    "order.overdue": (
        _("Order %(no)s is overdue"),
        _("Order %(no)s for %(unit)s is overdue: it had to %(what)s by %(due)s."),
    ),
    "order.escalated": (
        _("Escalated: order %(no)s overdue"),
        _("Order %(no)s for %(unit)s is overdue since %(due)s (%(what)s) and comes to you as %(level)s."),
    ),
    "extension.decided": (
        _("Extension for %(no)s: %(decision)s"),
        _("The extension %(unit)s asked for on order %(no)s was %(decision)s. %(note)s"),
    ),
    "arbitration.decided": (
        _("Arbitration on %(no)s decided"),
        _("The city decided who handles request %(no)s: %(decision)s"),
    ),
    "brain.case": (
        _("Sensor case %(no)s: %(alarm)s"),
        _("Device %(device)s raised %(alarm)s; case %(no)s was opened for %(unit)s."),
    ),
    # 未诉先办: a growing hot issue on the city's intake (hotline/hotissues)
    "hotissue.warning": (
        _("Hot issue growing: %(place)s"),
        _(
            "%(callers)d different callers raised the same problem within two weeks (%(messages)d requests): "
            "%(place)s, %(description)s See %(link)s"
        ),
    ),
    "digest": (
        _("%(count)d notifications"),
        _("What happened since the last digest:\n%(lines)s"),
    ),
}

# Parameters that are secrets (an access code, a one-time rating code): kept only until the message is
# sent or given up, then the stored text and parameters are redacted (decision 0004: a copy of the
# database must not hold working codes).
SECRET_PARAMS = {"code"}
REDACTED = "*****"

URGENT = {"whistle.summons", "order.escalated", "brain.case", "request.received"}

CITIZEN_EVENTS = (
    "request.received",
    "request.replied",
    "request.rating_link",
    "request.reopened",
    "application.correction",
    "certificate.issued",
)


# Parameter values that are words, not data: said in the recipient's language too.
WORDS: dict[str, Any] = {
    "respond": _("respond"),
    "finish": _("finish"),
    "approved": _("approved"),
    "refused": _("refused"),
    "unit-leader": _("the unit's leader"),
    "district": _("the district"),
    "city": _("the city"),
}


def named(thing: Any) -> Any:
    """A street's, department's or category's name in every language (``{"zh-hans": …, "en": …}``), so
    each recipient reads it in theirs; anything else as its text."""
    if thing is None:
        return ""
    if hasattr(thing, "name_en"):
        return {"zh-hans": thing.name, "en": thing.name_en or thing.name}
    return str(thing)


def in_language(params: dict[str, Any], language: str) -> dict[str, Any]:
    """``params`` as said in ``language``: names in every language pick theirs, words are translated."""
    out = {}
    with translation.override(language):
        for k, v in params.items():
            if isinstance(v, dict) and language in v:
                v = v[language]
            elif isinstance(v, dict) and v:
                v = next(iter(v.values()))
            if isinstance(v, str) and v in WORDS:
                v = str(WORDS[v])
            out[k] = v
    return out


def render(event: str, language: str, params: dict[str, Any]) -> tuple[str, str]:
    """(subject, body) of ``event`` in ``language``, its parameters filled in."""
    subject, body = TEXTS[event]
    said = in_language(params, language)
    with translation.override(language):
        return str(subject) % said, str(body) % said


def redacted(event: str, language: str, params: dict[str, Any]) -> tuple[dict[str, Any], str] | None:
    """(params, body) with the secret parameters blanked, or None when there is nothing secret."""
    if not SECRET_PARAMS & params.keys():
        return None
    clean = {k: (REDACTED if k in SECRET_PARAMS else v) for k, v in params.items()}
    return clean, render(event, language, clean)[1]
