"""Category suggestions from the classifier trained on the city's own history (optional)."""

from __future__ import annotations

import bisect
import hashlib
import logging
import os
import re
import threading
import time
from datetime import datetime, timedelta
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
    its parents' names share the most with ``text``; None when nothing is shared at all.

    Both sides are read from per-process indexes (gram → precedents, gram → categories): a submit
    without a category and without a model pays one query for what changed since the last call, not
    the tokenising of 300 texts (7–14 ms a submit before; bench/bench_suggest.py)."""
    grams = _grams(text)
    if not grams:
        return None
    with _index_lock:
        best = _precedents_for(city).best(grams)
        names = _names_for(city)
        if best is None:
            best = names.best(grams)
    return None if best is None else names.category(city, best)


def _weight(gram: str) -> int:
    """A gram's weight, as :func:`_grams` gives it: 1 for a single character, 3 for the rest."""
    return 1 if len(gram) == 1 else 3


# A precedent saved this long before the last look is looked at again: a transaction that commits
# late (or a node whose clock is a little behind) must not hide a classification from the index.
LATE_COMMIT_SECONDS = 5.0

# How often a worker looks for requests classified since its last look, and whether the category tree
# changed. Looking on every call cost three queries a submit (the changes, the tree's version, the
# category), half of a submit's CPU and 9 ms of its time on PostgreSQL, with the index's lock held:
# a worker's threads suggested one at a time. A request classified in the last second is used from
# the next look on; a pack import reaches the other workers within NAMES_RECHECK_SECONDS.
PRECEDENTS_RECHECK_SECONDS = 1.0
NAMES_RECHECK_SECONDS = 10.0

_index_lock = threading.Lock()
_precedent_indexes: dict[tuple[str, int], _Precedents] = {}
_name_indexes: dict[tuple[str, int], _Names] = {}


def forget_indexes() -> None:
    """Drop the per-process indexes (they are rebuilt on the next suggestion)."""
    with _index_lock:
        _precedent_indexes.clear()
        _name_indexes.clear()


def _database() -> str:
    from django.db import connection

    return str(connection.settings_dict.get("NAME"))


class _Precedents:
    """The city's latest ``PRECEDENTS`` classified requests (newest ``created_at`` first, then the
    highest id), as an inverted index gram → request ids.

    Kept up to date by :meth:`refresh`: requests with an id above the highest one seen, and those
    saved (``updated_at``) since the last look, minus ``LATE_COMMIT_SECONDS``; a request's category is
    never taken away, so the window only moves forward. Everything is read again when the newest
    request seen is gone or is not the same row any more (a restored or rolled-back database)."""

    def __init__(self) -> None:
        self.looked = float("-inf")  # time.monotonic() of the last refresh
        self._reset()

    def _reset(self) -> None:
        self.rows: dict[int, tuple[tuple[datetime, int], int, datetime, tuple[str, ...]]] = {}
        self.order: list[tuple[datetime, int]] = []  # the window's (created_at, id), oldest first
        self.postings: dict[str, set[int]] = {}
        self.last_id = 0
        self.last_created: datetime | None = None
        self.since: datetime | None = None  # when the last look started

    def refresh(self, city) -> None:
        from django.db.models import Q
        from django.utils import timezone

        from cityloop.hotline.models import Request

        started = timezone.now()
        classified = Request.objects.filter(city=city, category__isnull=False)
        fields = ("id", "created_at", "updated_at", "category_id", "title", "description")
        # a city without a classified request yet is read whole each time (nothing to read): "id ≥ 0"
        # would read every other city's requests
        whole = self.since is None or not self.last_id
        if self.since is not None and self.last_id:
            # Not filtered by city in SQL: "(id ≥ … OR updated_at ≥ …)" alone is read from two indexes
            # (SQLite's multi-index OR); with "city_id = …" beside it SQLite walks the city's index,
            # every request of the city, which cost more than the tokenising this index saves.
            since = self.since - timedelta(seconds=LATE_COMMIT_SECONDS)
            changed = [
                row[1:]
                for row in Request.objects.filter(Q(id__gte=self.last_id) | Q(updated_at__gte=since))
                .filter(category__isnull=False)
                .values_list("city_id", *fields)
                if row[0] == city.pk
            ]
            anchor = next((row for row in changed if row[0] == self.last_id), None)
            # not the database the index was read from (restored, rolled back), or a precedent whose
            # place in the window moved: read the window again
            whole = anchor is None or anchor[1] != self.last_created
            whole = whole or not all([self._add(*row) for row in changed])
        if whole:
            self._reset()
            for row in classified.order_by("-created_at", "-id").values_list(*fields)[:PRECEDENTS]:
                self._add(*row)
        self.since = started

    def _add(self, pk, created_at, updated_at, category_id, title, description) -> bool:
        """Index one classified request (again if it changed); False when the window cannot say."""
        if pk > self.last_id:
            self.last_id, self.last_created = pk, created_at
        key = (created_at, pk)
        known = self.rows.get(pk)
        if known is not None:
            if known[2] == updated_at and known[1] == category_id:
                return True
            if known[0] != key:
                return False  # its place in the window changed: the request next to it is not here
            self._remove(pk)
        elif len(self.order) >= PRECEDENTS and key < self.order[0]:
            return True  # older than the window
        grams = tuple(_grams(f"{title}\n{description}"))
        self.rows[pk] = (key, category_id, updated_at, grams)
        bisect.insort(self.order, key)
        for gram in grams:
            self.postings.setdefault(gram, set()).add(pk)
        if len(self.order) > PRECEDENTS:
            self._remove(self.order[0][1])
        return True

    def _remove(self, pk: int) -> None:
        key, _category, _updated, grams = self.rows.pop(pk)
        del self.order[bisect.bisect_left(self.order, key)]
        for gram in grams:
            ids = self.postings[gram]
            ids.discard(pk)
            if not ids:
                del self.postings[gram]

    def best(self, grams: dict[str, int]) -> int | None:
        """The category of the precedent sharing the most with ``grams`` (more than a pair of
        characters, a word or three characters); the most recent one of those sharing as much."""
        scores: dict[int, int] = {}
        for gram in grams:
            ids = self.postings.get(gram)
            if ids:
                weight = _weight(gram)
                for pk in ids:
                    scores[pk] = scores.get(pk, 0) + weight
        best, best_score, best_key = None, 2, None
        for pk, score in scores.items():
            key = self.rows[pk][0]
            if score > best_score or (score == best_score and best_key is not None and key > best_key):
                best, best_score, best_key = pk, score, key
        return None if best is None else self.rows[best][1]


def _precedents_for(city) -> _Precedents:
    key = (_database(), city.pk)
    index = _precedent_indexes.get(key)
    if index is None:
        index = _precedent_indexes[key] = _Precedents()
    now = time.monotonic()
    if now - index.looked >= PRECEDENTS_RECHECK_SECONDS:
        index.refresh(city)
        index.looked = now
    return index


class _Names:
    """The grams of the city's category names (local and English), gram → categories, for one
    version of the tree: its count, its highest id and when the city's pack was last imported (a
    pack import is the only way names change; a category added from replayed history adds an id)."""

    def __init__(self, version: tuple, categories) -> None:
        self.version = version
        self.checked = float("-inf")  # time.monotonic() of the last look at the version
        self.postings: dict[str, list[int]] = {}
        self.parent_of: dict[int, int | None] = {}
        self.depth_of: dict[int, int] = {}
        self.objects: dict[int, Category] = {}
        for category in categories:
            pk = category.pk
            self.objects[pk] = category
            self.parent_of[pk], self.depth_of[pk] = category.parent_id, category.depth
            for gram in _grams(f"{category.name} {category.name_en or ''}"):
                self.postings.setdefault(gram, []).append(pk)

    def category(self, city, pk: int) -> Category | None:
        """The category ``pk`` of this version of the tree; read when it is newer than the index."""
        found = self.objects.get(pk)
        return found if found is not None else org_queries.categories(city, pk=pk).first()

    def best(self, grams: dict[str, int]) -> int | None:
        """The category whose name, plus half its parents' names, shares the most with ``grams``;
        the deepest, then the highest id, of those sharing as much; None when no name shares any."""
        own: dict[int, int] = {}
        for gram in grams:
            for pk in self.postings.get(gram, ()):
                own[pk] = own.get(pk, 0) + _weight(gram)

        def score(pk: int) -> float:
            total: float = own[pk]
            node = self.parent_of[pk]
            while node is not None:
                total += own.get(node, 0) / 2  # a parent's name counts half: it says less about the leaf
                node = self.parent_of.get(node)
            return total

        scored = [(score(pk), self.depth_of[pk], pk) for pk in own]
        return max(scored)[2] if scored else None


def _names_for(city) -> _Names:
    from django.db.models import Count, Max

    key = (_database(), city.pk)
    index = _name_indexes.get(key)
    now = time.monotonic()
    if index is not None and now - index.checked < NAMES_RECHECK_SECONDS:
        return index
    categories = org_queries.categories(city)
    version = tuple(
        categories.aggregate(n=Count("id"), top=Max("id"), imported=Max("city__pack__imported_at")).values()
    )
    if index is None or index.version != version:
        index = _name_indexes[key] = _Names(version, categories.order_by("pk"))
    index.checked = now
    return index
