"""Category suggestions from the classifier trained on the city's own history (optional)."""

from __future__ import annotations

import hashlib
import logging
import os
import re
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
    """The classifier's category for ``text`` and its confidence.

    Without a model (a fresh install or the demo, before the first retraining), or when the model's
    label names no category of this city, the suggestion comes from :func:`by_text_match` with a
    confidence of None: every channel's request still gets one, and the pages say it is a text
    match, not the classifier's."""
    if not text.strip():
        return None, None
    model = _model()
    if model is not None:
        suggestion = model.predict([text])[0]
        label = suggestion.label
        category = (
            org_queries.category(city, label)
            or org_queries.categories(city, name=label).order_by("depth").first()
            or org_queries.categories(city, name_en=label).order_by("depth").first()
        )
        if category is not None:
            return category, float(suggestion.confidence)
    return by_text_match(city, text), None


# -- The fallback: words in common with earlier requests and with the categories' names -------------

PRECEDENTS = 300  # the latest classified requests of the city a text is compared with
_CJK_RUN = re.compile(r"[\u4e00-\u9fff]+")
_WORD = re.compile(r"[a-z]{3,}")
_STOP = set("的了是在有我们你他她它也和就都不没人个很")


def _grams(text: str) -> dict[str, int]:
    """What two texts can share, with a weight: Chinese characters (1) and character pairs (3),
    Latin words of three letters or more (3)."""
    text = text.lower()
    grams: dict[str, int] = {}
    for run in _CJK_RUN.findall(text):
        for ch in run:
            if ch not in _STOP:
                grams.setdefault(ch, 1)
        for i in range(len(run) - 1):
            grams[run[i : i + 2]] = 3
    for word in _WORD.findall(text):
        grams[word] = 3
    return grams


def _shared(grams: dict[str, int], other: dict[str, int]) -> int:
    return sum(weight for gram, weight in other.items() if gram in grams)


def by_text_match(city, text: str) -> Category | None:
    """The category of the most alike of the city's latest classified requests (a pair of
    characters, a word or three characters in common at least), else the category whose name and
    its parents' names share the most with ``text``; None when nothing is shared at all."""
    from cityloop.hotline.models import Request

    grams = _grams(text)
    if not grams:
        return None
    best: int | None = None
    best_score = 2  # to beat: a pair of characters, a word or three characters in common at least
    latest = (
        Request.objects.filter(city=city, category__isnull=False)
        .order_by("-created_at")
        .values_list("title", "description", "category_id")[:PRECEDENTS]
    )
    for title, description, category_id in latest:
        shared = _shared(grams, _grams(f"{title}\n{description}"))
        if shared > best_score:
            best, best_score = category_id, shared
    if best is not None:
        return org_queries.categories(city, pk=best).first()
    rows = list(org_queries.categories(city).values_list("pk", "name", "name_en", "parent_id", "depth"))
    own = {pk: _shared(grams, _grams(f"{name} {name_en or ''}")) for pk, name, name_en, _p, _d in rows}
    parent_of = {pk: parent for pk, _n, _e, parent, _d in rows}

    def score(pk: int) -> float:
        total: float = own[pk]
        node: int | None = parent_of[pk]
        while node is not None:
            total += own.get(node, 0) / 2  # a parent's name counts half: it says less about the leaf
            node = parent_of.get(node)
        return total

    scored = [(score(pk), depth, pk) for pk, _n, _e, _p, depth in rows if own[pk]]
    if not scored:
        return None
    return org_queries.categories(city, pk=max(scored)[2]).first()
