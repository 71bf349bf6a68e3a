"""The classifier that learns from the dispatchers (issue 16): every decision a labelled example.

When a dispatcher classifies a request, or dispatches it (on the suggestion or on a category they
chose), the request's text and its final category are kept in :class:`LabelledExample`, with what
the classifier had suggested, the model in use, who decided and when. A request has one example:
the last decision wins. An accepted suggestion is a confirmed label, a changed one a correction;
both train the next model (``retrain.py``).
"""

from __future__ import annotations

from django.utils import timezone

from cityloop.core import audit
from cityloop.core.actors import Actor, person
from cityloop.hotline.intake import suggest
from cityloop.hotline.models import LabelledExample, Request


def record_decision(request: Request, *, actor: Actor) -> LabelledExample | None:
    """Keep the dispatcher's category for ``request`` as a labelled example (inside their transaction).

    Only a person's decision is kept: a category set by an import, the city brain or a command is
    nobody's judgement of the text. Nothing is written when the example already says the same."""
    who = person(actor)
    category = request.category
    if who is None or category is None:
        return None
    suggested = request.suggested_category if request.suggested_category_id else None
    fields = {
        "city_id": request.city_id,
        "text": suggest.request_text(request.title, request.description),
        "category": category,
        "category_code": category.code,
        "suggested_category": suggested,
        "suggested_code": suggested.code if suggested else "",
        "confidence": request.suggestion_confidence,
        "accepted": suggested is not None and suggested.pk == category.pk,
    }
    existing = LabelledExample.objects.filter(request=request).first()
    if existing is not None and existing.category_id == category.pk:
        return existing  # the same label again (a second dispatch, an arbitration): nothing new
    before = None if existing is None else existing.category_code
    fields.update(model_version=suggest.model_version(), decided_by=who, decided_at=timezone.now())
    if existing is None:
        example = LabelledExample.objects.create(request=request, **fields)
    else:
        for name, value in fields.items():
            setattr(existing, name, value)
        existing.save()
        example = existing
    audit.record(
        actor,
        "classifier.example",
        request,
        before=before,
        after=category.code,
        suggested=example.suggested_code,
        accepted=example.accepted,
    )
    return example
