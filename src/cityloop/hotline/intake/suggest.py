"""Category suggestions from the classifier trained on the city's own history (optional)."""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from typing import TYPE_CHECKING

from django.conf import settings

from cityloop.org import queries as org_queries

if TYPE_CHECKING:
    from cityloop.org.models import Category

log = logging.getLogger("cityloop.hotline")
_lock = threading.Lock()
_loaded: dict[str, tuple[float, object]] = {}


# How often a worker looks at the model file for a retrained model: a stat per submit was 2% of intake.
RECHECK_SECONDS = 2.0
_checked: dict[str, float] = {}


def model_key() -> bytes:
    """The key of the classifier model's HMAC, derived from the secret key (never stored beside the model)."""
    return hashlib.sha256(b"cityloop-classifier-model\0" + settings.SECRET_KEY.encode("utf-8")).digest()


def model_version(path: str | None = None) -> str:
    """The version of the model file (the first 12 characters of its signature); "" without one.

    A retrained model promoted in its place has a new signature, so a new version."""
    from cityloop.hotline.intake import classifier

    try:
        signature = classifier.signature_path(path or str(settings.HOTLINE["classifier_model"]))
        return signature.read_text(encoding="ascii").strip()[:12]
    except (OSError, UnicodeDecodeError):
        return ""


def request_text(title: str, description: str) -> str:
    """The text the classifier reads for a request (as intake asks it)."""
    return f"{title}\n{description}"


def _model():
    path = settings.HOTLINE["classifier_model"]
    now = time.monotonic()
    with _lock:
        cached = _loaded.get(path)
        if cached and now - _checked.get(path, -RECHECK_SECONDS) < RECHECK_SECONDS:
            return cached[1]
    try:
        mtime = os.path.getmtime(path)
    except OSError:
        with _lock:
            _loaded.pop(path, None)
        return None
    with _lock:
        _checked[path] = now
        cached = _loaded.get(path)
        if cached and cached[0] == mtime:
            return cached[1]
    from cityloop.hotline.intake import classifier

    try:
        model = classifier.load(path, key=model_key())
    except Exception as exc:  # noqa: BLE001 - a broken model must not stop intake; say so in the log
        log.warning("classifier model %s not usable: %s", path, exc)
        model = None
    with _lock:
        _loaded[path] = (mtime, model)
    return model


def current_model():
    """The model suggestions come from now (``classifier.Model``), or None; cached as for suggesting."""
    return _model()


def suggest(city, text: str) -> tuple[Category | None, float | None]:
    """The classifier's category for ``text`` and its confidence; (None, None) without a model."""
    model = _model()
    if model is None or not text.strip():
        return None, None
    suggestion = model.predict([text])[0]
    label = suggestion.label
    category = (
        org_queries.category(city, label)
        or org_queries.categories(city, name=label).order_by("depth").first()
        or org_queries.categories(city, name_en=label).order_by("depth").first()
    )
    return category, float(suggestion.confidence)
