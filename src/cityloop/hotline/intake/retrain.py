"""Retrain the classifier on the city's data and promote the candidate only if it does better (issue 16).

What the candidate learns from: the base training data the model in use was trained on (the CSV
named by ``CITYLOOP_CLASSIFIER_BASE_CSV`` with its text and label columns, or the one given to
``cityloop hotline retrain``), plus every dispatcher decision kept as a :class:`LabelledExample`.
An example's label is its category in the base data's vocabulary: the category's code, name or
English name, or the nearest ancestor's, that the base labels use (the demo and the public data
label by top-level name); a category the base data never names is learned under its own code. A
dispatcher's example replaces base rows with the same text.

The held-out slice: a row is held out when a seeded hash of its text falls in the lowest
``HELDOUT_FRACTION`` (stable: the same row is held out on every run, so a promoted model has never
seen the rows the next run judges it on), and every class with two rows or more keeps at least
one row on each side (stratified). The candidate never trains on it; it and the model in use are
scored on the same rows. A model in use that this loop did not promote (one written by ``cityloop
hotline train``, which learns every row of its CSV, held-out ones included) would score as if it had
never erred on the base rows; it and the candidate are then judged on the held-out dispatcher
decisions only, and with none of those yet the model in use is kept.

The rule (``decide``): the candidate takes the model's place only if its held-out accuracy is
higher than the current model's and its macro-F1 is not lower by more than ``MAX_F1_DROP``. With no
usable current model, a candidate that trained is promoted. Fewer than ``MIN_ROWS`` labelled rows:
nothing is trained.

Promotion writes the candidate and its signature beside the model and renames both into place
(each rename atomic); ``suggest`` notices the new file by its modification time.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from cityloop.core import audit
from cityloop.core.actors import Actor, person
from cityloop.hotline.intake import classifier, suggest
from cityloop.hotline.models import ClassifierRun, LabelledExample

log = logging.getLogger("cityloop.hotline")

HELDOUT_FRACTION = 0.2
SEED = 0
MIN_ROWS = 20
MAX_F1_DROP = 0.01


@dataclass(frozen=True)
class Base:
    """The base training data: a labelled CSV and its columns."""

    csv: str = ""
    text_cols: tuple[str, ...] = ()
    label_col: str = ""

    @classmethod
    def configured(cls) -> Base:
        h = settings.HOTLINE

        def value(name: str) -> str:
            return str(h.get(name) or "")

        cols = tuple(c.strip() for c in value("classifier_base_text_cols").split(",") if c.strip())
        return cls(value("classifier_base_csv"), cols, value("classifier_base_label_col"))

    def read(self) -> tuple[list[str], list[str], str]:
        """Texts, labels and the file's SHA-256; nothing without a CSV."""
        if not self.csv:
            return [], [], ""
        if not self.text_cols or not self.label_col:
            raise classifier.ClassifierError(
                "the base CSV needs its text columns (CITYLOOP_CLASSIFIER_BASE_TEXT_COLS, --text-cols) "
                "and its label column (CITYLOOP_CLASSIFIER_BASE_LABEL_COL, --label-col)"
            )
        data = classifier.read_csv(self.csv, list(self.text_cols), self.label_col)
        digest = hashlib.sha256(Path(self.csv).read_bytes()).hexdigest()
        return data.texts, list(data.labels or []), digest


def label_for(category, vocabulary: set[str]) -> str:
    """The label the base data uses for ``category`` (or an ancestor); its code when none does."""
    node = category
    while node is not None:
        for name in (node.code, node.name, node.name_en):
            if name and name in vocabulary:
                return name
        node = node.parent
    return category.code


def _bucket(text: str) -> float:
    digest = hashlib.sha256(f"{SEED}\0{classifier.normalise_text(text)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split(texts: list[str], labels: list[str]) -> tuple[list[int], list[int]]:
    """Row indexes for training and for the held-out slice (see the module's text)."""
    by_class: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        by_class[label].append(i)
    train, heldout = [], []
    for rows in by_class.values():
        ranked = sorted(rows, key=lambda i: (_bucket(texts[i]), i))
        out = [i for i in ranked if _bucket(texts[i]) < HELDOUT_FRACTION]
        if len(rows) >= 2:
            if not out:
                out = ranked[:1]
            if len(out) == len(rows):
                out = out[:-1]
        else:
            out = []
        held = set(out)
        heldout += out
        train += [i for i in rows if i not in held]
    return sorted(train), sorted(heldout)


def score(model, texts: list[str], labels: list[str]) -> tuple[float, float]:
    """Accuracy and macro-F1 (over the held-out classes) of ``model`` on the rows."""
    from sklearn.metrics import accuracy_score, f1_score

    predicted = [s.label for s in model.predict(texts)]
    classes = sorted(set(labels))
    return (
        float(accuracy_score(labels, predicted)),
        float(f1_score(labels, predicted, labels=classes, average="macro", zero_division=0)),
    )


def decide(candidate: tuple[float, float], current: tuple[float, float] | None) -> tuple[bool, str]:
    """Whether the candidate replaces the current model, and why (in words for the history)."""
    acc, f1 = candidate
    if current is None:
        return True, "no usable model in use: the candidate is the first"
    cur_acc, cur_f1 = current
    if acc <= cur_acc:
        return False, f"accuracy {acc:.4f} is not higher than the current model's {cur_acc:.4f}"
    if f1 < cur_f1 - MAX_F1_DROP:
        return False, (
            f"macro-F1 {f1:.4f} is more than {MAX_F1_DROP * 100:.0f} pt below "
            f"the current model's {cur_f1:.4f}"
        )
    return True, f"accuracy {acc:.4f} > {cur_acc:.4f}, macro-F1 {f1:.4f} vs {cur_f1:.4f}"


def _current_model(path: str):
    if not os.path.exists(path):
        return None
    try:
        return classifier.load(path, key=suggest.model_key())
    except (OSError, classifier.ClassifierError) as exc:
        log.warning("retrain: the model in use (%s) is not usable: %s", path, exc)
        return None


def promote(model, path: str) -> str:
    """Put ``model`` in the place of the model file suggest.py loads; returns the new version."""
    target = Path(path)
    staged = target.with_name(f"{target.name}.{uuid.uuid4().hex}.candidate")
    model.save(staged, key=suggest.model_key())
    staged_signature = classifier.signature_path(staged)
    os.replace(staged_signature, classifier.signature_path(target))
    os.replace(staged, target)
    return suggest.model_version(str(target))


def retrain(*, actor: Actor, trigger: str, base: Base | None = None) -> ClassifierRun:
    """Train a candidate, judge it against the model in use, promote it if it is better; recorded."""
    base = base or Base.configured()
    path = str(settings.HOTLINE["classifier_model"])
    run = ClassifierRun(
        started_at=timezone.now(), trigger=trigger, requested_by=person(actor), base_csv=base.csv
    )
    try:
        _train_and_judge(run, base, path)
    except (OSError, classifier.ClassifierError) as exc:
        run.promoted, run.reason = False, f"failed: {exc}"[:300]
    run.finished_at = timezone.now()
    with transaction.atomic():
        run.save()
        audit.record(
            actor,
            "classifier.retrain",
            run,
            after="promoted" if run.promoted else "kept",
            reason=run.reason,
            candidate_accuracy=run.candidate_accuracy,
            current_accuracy=run.current_accuracy,
            version=run.candidate_version or run.current_version,
        )
    return run


def _train_and_judge(run: ClassifierRun, base: Base, path: str) -> None:
    texts, labels, run.base_sha256 = base.read()
    run.base_rows = len(texts)
    current = _current_model(path)
    run.current_version = suggest.model_version(path) if current is not None else ""
    vocabulary = set(labels) or set(current.labels if current is not None else [])
    examples = list(LabelledExample.objects.select_related("category__parent__parent__parent").order_by("id"))
    run.examples = len(examples)
    corrected = {classifier.normalise_text(e.text) for e in examples}
    rows = [
        (t, y) for t, y in zip(texts, labels, strict=True) if classifier.normalise_text(t) not in corrected
    ]
    rows += [(e.text, label_for(e.category, vocabulary)) for e in examples]
    if len(rows) < MIN_ROWS:
        run.reason = f"not trained: {len(rows)} labelled row(s), at least {MIN_ROWS} are needed"
        return
    all_texts = [t for t, _ in rows]
    all_labels = [y for _, y in rows]
    first_example = len(rows) - len(examples)  # the rows from here on are the dispatchers' decisions
    train_idx, heldout_idx = split(all_texts, all_labels)
    if current is not None and not _promoted_here(run.current_version):
        # A model trained outside this loop (`hotline train`) most likely learned every base row, the
        # held-out ones too: it is judged, with the candidate, on the held-out decisions only.
        heldout_idx = [i for i in heldout_idx if i >= first_example]
        if not heldout_idx:
            run.train_rows = len(train_idx)
            run.reason = (
                "kept: the model in use was trained outside this loop, on the base data; "
                "no held-out dispatcher decision yet to judge it on"
            )
            return
    heldout_texts = [all_texts[i] for i in heldout_idx]
    heldout_labels = [all_labels[i] for i in heldout_idx]
    run.train_rows, run.heldout_rows = len(train_idx), len(heldout_idx)
    if not heldout_idx:
        run.reason = "not trained: no class has two rows to hold one out"
        return
    candidate = classifier.train(
        [all_texts[i] for i in train_idx], [all_labels[i] for i in train_idx], seed=SEED
    )
    run.classes = len(candidate.labels)
    run.candidate_accuracy, run.candidate_macro_f1 = score(candidate, heldout_texts, heldout_labels)
    measured = None
    if current is not None:
        measured = score(current, heldout_texts, heldout_labels)
        run.current_accuracy, run.current_macro_f1 = measured
    run.promoted, run.reason = decide((run.candidate_accuracy, run.candidate_macro_f1), measured)
    if run.promoted:
        run.candidate_version = promote(candidate, path)


def _promoted_here(version: str) -> bool:
    """Whether the model of ``version`` was promoted by a retraining (so it never saw a held-out row)."""
    return bool(version) and ClassifierRun.objects.filter(promoted=True, candidate_version=version).exists()


def history(limit: int = 50) -> list[ClassifierRun]:
    return list(ClassifierRun.objects.select_related("requested_by")[:limit])


def scheduled() -> str:
    """The weekly job: one line for the schedule's record."""
    from cityloop.core import actors

    run = retrain(actor=actors.SCHEDULE, trigger="schedule")
    return f"classifier {'promoted' if run.promoted else 'kept'}: {run.reason}"
