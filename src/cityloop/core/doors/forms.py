"""One way for every page to run an action: a refusal lands next to the field it names.

Actions refuse with ``ValidationError({"field": "rule"})``. A page either shows the refusal on its form
(next to the field, or above the form when the form has no such field) or, for a button without a form,
as a message at the top of the next page. ``run_action`` does both, in one transaction, for every app.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext


@dataclass(frozen=True)
class Outcome:
    """What ``run_action`` gives back: true when the action went through, with what it returned."""

    ok: bool
    result: Any = None

    def __bool__(self) -> bool:
        return self.ok


def field_errors(exc: ValidationError) -> list[tuple[str | None, str]]:
    """(field or None, translated message) for every message of a refusal."""
    if not hasattr(exc, "error_dict"):
        return [(None, gettext(m)) for m in exc.messages]
    return [
        (None if field == "__all__" else field, gettext(m))
        for field, found in exc.message_dict.items()
        for m in found
    ]


def errors_in_english(exc: ValidationError) -> dict[str, list[str]]:
    """A refusal's messages as the API and the command line give them: in English, whatever the
    request's language (the actions write messages once, translatable; pages show them translated)."""
    with translation.override("en"):
        if hasattr(exc, "error_dict"):
            return {field: [str(m) for m in found] for field, found in exc.message_dict.items()}
        return {"__all__": [str(m) for m in exc.messages]}


def format_errors(exc: ValidationError) -> str:
    """One line for a command's error: ``field: message; field: message`` (English)."""
    errors = errors_in_english(exc)
    if list(errors) == ["__all__"]:
        return "; ".join(errors["__all__"])
    return "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in errors.items())


def apply_errors(form, exc: ValidationError) -> None:
    """Put an action's refusal next to the field it names (or above the form)."""
    for field, message in field_errors(exc):
        if field is not None and field in form.fields:
            form.add_error(field, message)
        else:
            form.add_error(None, f"{field}: {message}" if field else message)


def message_errors(request, exc: ValidationError, *, prefix: str = "") -> None:
    """Put an action's refusal into the next page's messages, one per broken rule. The message says
    what is wrong in the page's language; the field's key (``units``, ``materials.bundle_form``) is the
    code's name for it and is not shown."""
    for _field, message in field_errors(exc):
        messages.error(request, f"{prefix}{message}" if prefix else message)


def run_action(action: Callable[[], Any], *, form=None, request=None, prefix: str = "") -> Outcome:
    """Run ``action()`` (one action call) in a transaction; a refusal goes onto ``form`` or, without a
    form, into ``request``'s messages (each prefixed with ``prefix``, e.g. a tracking number)."""
    try:
        with transaction.atomic():
            result = action()
    except ValidationError as exc:
        if form is not None:
            apply_errors(form, exc)
        elif request is not None:
            message_errors(request, exc, prefix=prefix)
        else:
            raise
        return Outcome(False)
    return Outcome(True, result)
