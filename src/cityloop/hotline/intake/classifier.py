"""Suggest a request's category from its text (no Django).

A character n-gram TF-IDF (``char_wb``, 1–3 grams, sublinear tf) feeds a linear SVM whose scores
are turned into probabilities by sigmoid calibration on a seeded, stratified 3-fold split
(``CalibratedClassifierCV``). Character n-grams need no word segmentation, so the same model
reads Chinese (no spaces) and English. When some class has a single training example the
calibration split is impossible and a multinomial logistic regression is used instead; both give
a probability for every class, and the confidence of a suggestion is the probability of the
predicted class.

The first line of a text is its subject when the text columns were joined as ``主题\n详情`` (as
``read_csv`` and the intake form's "title\ndescription" do): ``prepare_text`` counts it
``SUBJECT_REPEAT`` more times, because a short subject names the topic more reliably than a long
narrative (5-fold CV on the Chinese messages, seeds 0/1/2: mean accuracy 0.745 → 0.769; see
docs/decisions/0013-classifier-subject-weight.md). A single-line text is read as it is.

The 3-level taxonomy of the Chinese messages (``taxonomy/label_taxonomy_3level.csv``, package data)
adds one short training example per third-level category, "二级分类 三级分类" labelled with its
一级分类, for every first-level class that is among the training labels (none for other label sets,
such as the NYC 311 types): CV mean over seeds 0/1/2 0.769 → 0.789 (decision 0013).

Measured with ``bench/classifier_eval.py`` (seeded stratified 5-fold CV); see the README.

The saved model is a joblib pickle. Loading a pickle runs code from the file, so ``save`` writes an
HMAC-SHA256 of the file beside it (``<model>.sig``) with a key the caller holds (CityLoop derives it
from its secret key: ``model_key``), and ``load`` with a key refuses a file whose HMAC does not match
*before* unpickling it. Someone who can write the model folder but not read the secret key cannot
make the web process run their code.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import time
import unicodedata
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

FORMAT_NAME = "cityloop.hotline.intake.classifier"
FORMAT_VERSION = 1
TOP_K = 3
SUBJECT_REPEAT = 2
TAXONOMY_CSV = Path(__file__).with_name("taxonomy") / "label_taxonomy_3level.csv"


class ClassifierError(ValueError):
    """Bad input data (missing column, unreadable file, too few classes, ...)."""


class ModelFormatError(ClassifierError):
    """The model file is not a CityLoop classifier of the format version this code reads."""


@dataclass(frozen=True)
class Suggestion:
    """A suggested category.

    ``confidence`` is the model's probability of ``label`` (0..1). ``alternatives`` is the top
    ``TOP_K`` (label, probability) pairs, best first; its first entry is the suggestion itself.
    """

    label: str
    confidence: float
    alternatives: list[tuple[str, float]] = field(default_factory=list)


def normalise_text(text: str) -> str:
    """NFKC (full-width → half-width letters, digits and punctuation), lower case, single spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).lower().split())


def prepare_text(text: str) -> str:
    """The vectoriser's preprocessor: the first line (the subject) repeated ``SUBJECT_REPEAT``
    more times when there is more than one line, then :func:`normalise_text`."""
    head, sep, _ = text.partition("\n")
    if sep and head.strip():
        text = (head + "\n") * SUBJECT_REPEAT + text
    return normalise_text(text)


# -- the model ----------------------------------------------------------------------------------


def _make_pipeline(labels: Sequence[str], *, seed: int, estimator: str) -> tuple[Any, str]:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import Pipeline
    from sklearn.svm import LinearSVC

    vectorizer = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(1, 3),
        sublinear_tf=True,
        min_df=1,
        preprocessor=prepare_text,
        dtype=np.float32,
    )
    smallest = min(Counter(labels).values())
    if estimator == "auto":
        estimator = "svc" if smallest >= 2 else "logreg"
    if estimator == "svc":
        if smallest < 2:
            raise ClassifierError("the calibrated SVM needs at least 2 examples of every class")
        clf: Any = CalibratedClassifierCV(
            LinearSVC(C=1.0, random_state=seed),
            method="sigmoid",
            cv=StratifiedKFold(n_splits=min(3, smallest), shuffle=True, random_state=seed),
        )
        name = (
            f"subject x{SUBJECT_REPEAT + 1} + char_wb(1,3) tf-idf + LinearSVC, "
            f"sigmoid-calibrated ({min(3, smallest)}-fold)"
        )
    elif estimator == "logreg":
        clf = LogisticRegression(C=10.0, max_iter=3000, random_state=seed)
        name = f"subject x{SUBJECT_REPEAT + 1} + char_wb(1,3) tf-idf + LogisticRegression(C=10)"
    else:
        raise ClassifierError(f"unknown estimator {estimator!r} (use auto, svc or logreg)")
    return Pipeline([("tfidf", vectorizer), ("clf", clf)]), name


class Model:
    """A trained classifier. Build with :func:`train` or :func:`load`."""

    def __init__(self, pipeline: Any, meta: dict[str, Any]):
        self.pipeline = pipeline
        self.labels: list[str] = [str(c) for c in pipeline.classes_]
        self.meta = meta

    def __repr__(self) -> str:
        return f"<Model {len(self.labels)} classes, n={self.meta.get('n')}>"

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Probabilities, one row per text, columns in ``self.labels`` order."""
        texts = [t if isinstance(t, str) else "" for t in texts]
        if not texts:
            return np.zeros((0, len(self.labels)))
        return np.asarray(self.pipeline.predict_proba(texts), dtype=np.float64)

    def predict(self, texts: Sequence[str]) -> list[Suggestion]:
        proba = self.predict_proba(texts)
        out = []
        for row in proba:
            order = np.argsort(-row, kind="stable")[:TOP_K]
            top = [(self.labels[i], float(np.clip(row[i], 0.0, 1.0))) for i in order]
            out.append(Suggestion(label=top[0][0], confidence=top[0][1], alternatives=top))
        return out

    def save(self, path: str | Path, *, key: bytes | None = None) -> Path:
        """Write the model (atomically) and, with ``key``, its HMAC in ``<path>.sig``."""
        import joblib

        path = Path(path)
        payload = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "labels": list(self.labels),
            "meta": self.meta,
            "pipeline": self.pipeline,
        }
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        joblib.dump(payload, tmp, compress=3)
        if key is not None:
            signature = signature_path(path)
            signature_tmp = signature.with_name(signature.name + ".tmp")
            signature_tmp.write_text(_hmac_of(tmp, key) + "\n", encoding="ascii")
            signature_tmp.replace(signature)
        tmp.replace(path)
        return path


def signature_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".sig")


def _hmac_of(path: Path, key: bytes) -> str:
    mac = hmac.new(key, digestmod=hashlib.sha256)
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            mac.update(chunk)
    return mac.hexdigest()


def load(path: str | Path, *, key: bytes | None = None) -> Model:
    """Load a model written by :meth:`Model.save`; refuse other formats and format versions.

    With ``key``, the file must match the HMAC in ``<path>.sig``; it is checked before anything is
    unpickled."""
    import joblib

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"model file not found: {path}")
    if key is not None:
        try:
            expected = signature_path(path).read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ModelFormatError(
                f"{path} has no signature file {signature_path(path).name}: train it again "
                "with `cityloop hotline train`"
            ) from exc
        if not hmac.compare_digest(expected, _hmac_of(path, key)):
            raise ModelFormatError(
                f"{path} does not match its signature: it was not written by this "
                "CityLoop's `hotline train` (or was changed since); it was not loaded"
            )
    try:
        payload = joblib.load(path)
    except Exception as exc:  # noqa: BLE001 - any unpickling failure means "not our file"
        raise ModelFormatError(f"{path} is not a CityLoop classifier model ({exc})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise ModelFormatError(f"{path} is not a CityLoop classifier model")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFormatError(
            f"{path} has classifier format version {version}; this CityLoop reads version "
            f"{FORMAT_VERSION}. Train the model again with `cityloop hotline train`."
        )
    model = Model(payload["pipeline"], dict(payload.get("meta") or {}))
    if model.labels != list(payload.get("labels") or []):
        raise ModelFormatError(f"{path} is damaged: its label set does not match the model")
    return model


def taxonomy_examples(labels: Sequence[str], path: Path = TAXONOMY_CSV) -> tuple[list[str], list[str]]:
    """Extra (texts, labels) from the 3-level taxonomy: "二级 三级" for each row whose 一级分类 is in
    ``labels``, in file order."""
    wanted = set(labels)
    texts: list[str] = []
    out: list[str] = []
    with open(path, encoding="utf-8-sig", newline="") as f:
        for row in csv.DictReader(f):
            first = (row.get("一级分类") or "").strip()
            if first in wanted:
                texts.append(f"{(row.get('二级分类') or '').strip()} {(row.get('三级分类') or '').strip()}")
                out.append(first)
    return texts, out


def train(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    seed: int = 0,
    estimator: str = "auto",
    taxonomy: bool = True,
) -> Model:
    """Fit a model. ``estimator``: ``auto`` (calibrated SVM, or logistic regression when a class
    has a single example), ``svc`` or ``logreg``. ``taxonomy``: add :func:`taxonomy_examples`."""
    texts = list(texts)
    labels = [str(x) for x in labels]
    if len(texts) != len(labels):
        raise ClassifierError(f"{len(texts)} texts but {len(labels)} labels")
    if any(not x.strip() for x in labels):
        raise ClassifierError("empty label in the training data")
    counts = Counter(labels)
    if len(counts) < 2:
        raise ClassifierError(f"need at least 2 classes to train, got {len(counts)}")
    pipeline, name = _make_pipeline(labels, seed=seed, estimator=estimator)
    extra_texts, extra_labels = taxonomy_examples(labels) if taxonomy else ([], [])
    if extra_texts:
        name += f" + {len(extra_texts)} taxonomy examples"
    started = time.perf_counter()
    pipeline.fit(texts + extra_texts, labels + extra_labels)
    import sklearn

    meta = {
        "n": len(texts),
        "classes": len(counts),
        "class_counts": dict(counts.most_common()),
        "estimator": name,
        "seed": seed,
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "fit_seconds": round(time.perf_counter() - started, 3),
        "sklearn_version": sklearn.__version__,
        "features": len(pipeline.named_steps["tfidf"].vocabulary_),
        "taxonomy_examples": len(extra_texts),
    }
    return Model(pipeline, meta)


# -- CSV input ------------------------------------------------------------------------------------


@dataclass
class CsvData:
    """What :func:`read_csv` returns; unpacks as ``rows, texts, labels``.

    ``rows`` are the kept input rows (dicts, all columns), ``texts`` the joined text columns and
    ``labels`` the label column (``None`` when no label column was asked for).
    """

    rows: list[dict[str, str]]
    texts: list[str]
    labels: list[str] | None
    columns: list[str]
    skipped_no_label: int = 0
    skipped_no_text: int = 0

    def __iter__(self) -> Iterator[Any]:
        return iter((self.rows, self.texts, self.labels))

    @property
    def skipped(self) -> int:
        return self.skipped_no_label + self.skipped_no_text


def _check_columns(path: Path, wanted: Sequence[str], columns: list[str]) -> None:
    missing = [c for c in wanted if c not in columns]
    if missing:
        names = ", ".join(repr(c) for c in missing)
        noun = "column" if len(missing) == 1 else "columns"
        shown = ", ".join(repr(c) for c in columns) or "(none)"
        raise ClassifierError(f"{noun} {names} not found in {path}; available columns: {shown}")


def read_csv(
    path: str | Path, text_cols: Sequence[str], label_col: str | None = None, *, joiner: str = "\n"
) -> CsvData:
    """Read a UTF-8 CSV (a BOM is accepted) with a header row.

    The text of a row is its non-empty ``text_cols`` values joined with ``joiner``. With a
    ``label_col``, rows with an empty label or an empty text are skipped and counted
    (``skipped_no_label``, ``skipped_no_text``); without one every row is kept.
    """
    path = Path(path)
    text_cols = [c.strip() for c in text_cols if c.strip()]
    if not text_cols:
        raise ClassifierError("no text column given")
    if not path.is_file():
        raise FileNotFoundError(f"CSV file not found: {path}")
    csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise ClassifierError(f"{path} is empty (no header row)")
            columns = [h.strip() for h in header]
            _check_columns(path, [*text_cols, *([label_col] if label_col else [])], columns)
            text_idx = [columns.index(c) for c in text_cols]
            label_idx = columns.index(label_col) if label_col else None
            data = CsvData([], [], [] if label_col else None, columns)
            for record in reader:
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue  # blank line
                if len(record) < len(columns):
                    record = record + [""] * (len(columns) - len(record))
                text = joiner.join(v for i in text_idx if (v := record[i].strip()))
                if label_idx is not None:
                    label = record[label_idx].strip()
                    if not label:
                        data.skipped_no_label += 1
                        continue
                    if not text:
                        data.skipped_no_text += 1
                        continue
                    data.labels.append(label)  # type: ignore[union-attr]
                data.rows.append(dict(zip(columns, record[: len(columns)], strict=True)))
                data.texts.append(text)
    except UnicodeDecodeError as exc:
        raise ClassifierError(
            f"{path} is not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8 CSV"
        ) from exc
    except csv.Error as exc:
        raise ClassifierError(f"{path} is not a readable CSV file: {exc}") from exc
    return data


# -- evaluation -----------------------------------------------------------------------------------


def cross_validate(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    folds: int = 5,
    seed: int = 0,
    estimator: str = "auto",
) -> dict[str, Any]:
    """Seeded, stratified K-fold cross-validation of :func:`train`.

    Classes with fewer than ``folds`` examples cannot be stratified and are dropped first; how
    many is reported in ``dropped_classes`` / ``dropped_rows``. ``accuracy`` and ``macro_f1``
    are computed over the pooled out-of-fold predictions (every kept row predicted once), the
    macro average over the kept classes.
    """
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import StratifiedKFold

    if folds < 2:
        raise ClassifierError("folds must be at least 2")
    if len(texts) != len(labels):
        raise ClassifierError(f"{len(texts)} texts but {len(labels)} labels")
    counts = Counter(str(x) for x in labels)
    dropped = {c: k for c, k in counts.items() if k < folds}
    keep = [i for i, y in enumerate(labels) if str(y) not in dropped]
    x = np.array([texts[i] for i in keep], dtype=object)
    y = np.array([str(labels[i]) for i in keep], dtype=object)
    classes = sorted(set(y.tolist()))
    if len(classes) < 2:
        raise ClassifierError(
            f"need at least 2 classes with {folds} or more examples for {folds}-fold CV, got {len(classes)}"
        )
    started = time.perf_counter()
    predicted = np.empty(len(y), dtype=object)
    fold_accuracy = []
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(x, y):
        model = train(list(x[train_idx]), list(y[train_idx]), seed=seed, estimator=estimator)
        predicted[test_idx] = [s.label for s in model.predict(list(x[test_idx]))]
        fold_accuracy.append(float(np.mean(predicted[test_idx] == y[test_idx])))
    return {
        "accuracy": float(accuracy_score(y, predicted)),
        "macro_f1": float(f1_score(y, predicted, labels=classes, average="macro", zero_division=0)),
        "folds": folds,
        "seed": seed,
        "n": int(len(y)),
        "classes": len(classes),
        "dropped_classes": len(dropped),
        "dropped_rows": int(sum(dropped.values())),
        "fold_accuracy": fold_accuracy,
        "estimator": model.meta["estimator"],
        "seconds": round(time.perf_counter() - started, 2),
    }
