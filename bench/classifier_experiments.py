"""Variants of the hotline classifier tried on the Chinese messages (issue 16; decision 0013).

    python bench/classifier_experiments.py [--data DIR] [--seeds 0,1,2] [VARIANT ...]

Every variant is scored as ``bench/classifier_eval.py`` scores the product: stratified 5-fold CV on
``gov_messages_cn/messages_labelled.csv`` (留言主题 + 留言详情 → 一级分类), repeated for each seed,
and reported as the mean accuracy over the seeds with each seed's accuracy. The unlabelled messages
(``full_hot_issue_messages.csv``, ``full_messages_with_replies.csv``) are used only after dropping
every one that repeats a labelled message (same subject and first 60 characters of the details),
and nothing a fold's test messages say reaches its training except as unlabelled text (label
spreading, as a transductive method, sees them unlabelled). ``jieba`` is needed for the word
variants only (``pip install jieba==0.42.1``; not a CityLoop dependency). One core.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import collections  # noqa: E402
import csv  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402
import scipy.sparse as sp  # noqa: E402
from sklearn.calibration import CalibratedClassifierCV  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.pipeline import make_pipeline, make_union  # noqa: E402
from sklearn.preprocessing import normalize  # noqa: E402
from sklearn.svm import LinearSVC  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from cityloop.hotline.intake import classifier as C  # noqa: E402

Fn = Callable[[list[str], list[str], list[str], int], list[str]]
COLS = ["留言主题", "留言详情"]


class Data:
    def __init__(self, folder: Path):
        self.folder = folder
        d = C.read_csv(folder / "messages_labelled.csv", COLS, "一级分类")
        self.x = np.array(d.texts, dtype=object)
        self.y = np.array(d.labels, dtype=object)
        self.tax_x, self.tax_y = C.taxonomy_examples(sorted(set(d.labels)))
        keys = {self.key(t) for t in d.texts}
        self.replies: list[tuple[str, str]] = []
        with open(folder / "full_messages_with_replies.csv", encoding="utf-8-sig", newline="") as f:
            for r in csv.DictReader(f):
                t = "\n".join(v for v in (r["留言主题"].strip(), r["留言详情"].strip()) if v)
                if self.key(t) not in keys:
                    self.replies.append((t, r["答复意见"]))
        hot = C.read_csv(folder / "full_hot_issue_messages.csv", COLS).texts
        self.unlabelled = [t for t in hot if self.key(t) not in keys] + [t for t, _ in self.replies]
        with open(folder / "label_taxonomy_3level.csv", encoding="utf-8-sig", newline="") as f:
            rows = list(csv.DictReader(f))
        self.other_tax = [
            f"{r['二级分类']} {r['三级分类']}" for r in rows if r["一级分类"] not in set(d.labels)
        ]

    @staticmethod
    def key(text: str) -> tuple[str, str]:
        head, _, rest = text.partition("\n")
        return head.strip(), rest[:60]


def run(data: Data, name: str, fn: Fn, seeds: list[int]) -> None:
    started = time.perf_counter()
    accs = []
    for seed in seeds:
        pred = np.empty(len(data.y), dtype=object)
        for tr, te in StratifiedKFold(5, shuffle=True, random_state=seed).split(data.x, data.y):
            pred[te] = fn(list(data.x[tr]), list(data.y[tr]), list(data.x[te]), seed)
        accs.append(float(np.mean(pred == data.y)))
    print(
        f"RESULT variant={name} accuracy={np.mean(accs):.4f} seeds={' '.join(f'{a:.4f}' for a in accs)} "
        f"spread={max(accs) - min(accs):.4f} seconds={time.perf_counter() - started:.0f}",
        flush=True,
    )


def char_vec(**kw: Any) -> TfidfVectorizer:
    opts: dict[str, Any] = dict(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True, dtype=np.float32)
    opts.update(kw)
    return TfidfVectorizer(preprocessor=C.prepare_text, **opts)


def calibrated(seed: int, c: float = 1.0) -> CalibratedClassifierCV:
    return CalibratedClassifierCV(
        LinearSVC(C=c, random_state=seed),
        method="sigmoid",
        cv=StratifiedKFold(3, shuffle=True, random_state=seed),
    )


def product(data: Data) -> Fn:
    def fn(tr: list[str], ytr: list[str], te: list[str], seed: int) -> list[str]:
        return [s.label for s in C.train(tr, ytr, seed=seed).predict(te)]

    return fn


def char_variant(data: Data, **kw: Any) -> Fn:
    def fn(tr: list[str], ytr: list[str], te: list[str], seed: int) -> list[str]:
        p = make_pipeline(char_vec(**kw), calibrated(seed))
        p.fit(tr + data.tax_x, ytr + data.tax_y)
        return list(p.predict(te))

    return fn


_SEGMENTED: dict[str, list[str]] = {}


def words(text: str) -> list[str]:
    import jieba

    out = _SEGMENTED.get(text)
    if out is None:
        out = _SEGMENTED[text] = [w for w in jieba.lcut(C.prepare_text(text)) if w.strip()]
    return out


def word_variant(data: Data, *, char: bool, ngrams: tuple[int, int]) -> Fn:
    def fn(tr: list[str], ytr: list[str], te: list[str], seed: int) -> list[str]:
        w = TfidfVectorizer(analyzer=lambda t: _ngrams(words(t), ngrams), sublinear_tf=True, dtype=np.float32)
        p = make_pipeline(make_union(char_vec(), w) if char else w, calibrated(seed))
        p.fit(tr + data.tax_x, ytr + data.tax_y)
        return list(p.predict(te))

    return fn


def _ngrams(tokens: list[str], ngrams: tuple[int, int]) -> list[str]:
    return [
        " ".join(tokens[i : i + n])
        for n in range(ngrams[0], ngrams[1] + 1)
        for i in range(len(tokens) - n + 1)
    ]


# the unit named in the official reply, as a weak label of the message
UNITS = {
    "城乡建设": r"住建|住房和城乡建设|城乡建设局|城管|城市管理|行政执法局|规划局|规划分局"
    r"|住房保障|房产局|房地产|物业",
    "教育文体": r"教育局|教育厅|教育体育|教体局|文体|体育局|学校|幼儿园",
    "劳动和社会保障": r"人社|人力资源和社会保障|社会保险|社保|医保|医疗保障|劳动监察|劳动保障",
    "卫生计生": r"卫健|卫生健康|卫生局|卫计|疾控|卫生计生|食品药品|计生|医院",
    "交通运输": r"交通运输|交通局|公交|运管|出租车",
    "商贸旅游": r"商务局|市场监督管理|市场监管|工商|旅游|质监|物价",
    "环境保护": r"环保|环境保护|生态环境",
    "": r"公安|派出所|民政|财政|国土|自然资源|农业|农村|林业|水利|发改|发展和改革|纪委|法院|司法"
    r"|交警|扶贫|村委",
}


def weak_labels(data: Data) -> tuple[list[str], list[str]]:
    """Messages whose reply names (≥ 70 % of the unit mentions) units of one of the 7 classes."""
    xs, ys = [], []
    for text, reply in data.replies:
        counts = {k: len(re.findall(rx, reply)) for k, rx in UNITS.items()}
        counts = {k: v for k, v in counts.items() if v}
        if counts:
            best = max(counts, key=lambda k: counts[k])
            if best and counts[best] >= 0.7 * sum(counts.values()):
                xs.append(text)
                ys.append(best)
    return xs, ys


def weak_variant(data: Data, weight: float) -> Fn:
    wx, wy = weak_labels(data)

    def fn(tr: list[str], ytr: list[str], te: list[str], seed: int) -> list[str]:
        p = make_pipeline(char_vec(), calibrated(seed))
        w = np.array([1.0] * (len(tr) + len(data.tax_x)) + [weight] * len(wx))
        p.fit(tr + data.tax_x + wx, ytr + data.tax_y + wy, calibratedclassifiercv__sample_weight=w)
        return list(p.predict(te))

    return fn


def weak_only(data: Data) -> None:
    wx, wy = weak_labels(data)
    m = C.train(wx, wy, seed=0)
    acc = np.mean(np.array([s.label for s in m.predict(list(data.x))], dtype=object) == data.y)
    print(f"RESULT variant=weak-only n_weak={len(wx)} accuracy_on_all_298={acc:.4f}", flush=True)


def embeddings(data: Data, dim: int = 100, window: int = 5, min_count: int = 3) -> Any:
    """PPMI + SVD word vectors (jieba words) from the unlabelled messages; idf per word."""
    from sklearn.utils.extmath import randomized_svd

    docs = [[w for w in words(t) if re.search(r"[\u4e00-\u9fa5a-z]", w)] for t in data.unlabelled]
    cnt = collections.Counter(w for d in docs for w in d)
    vocab = [w for w, c in cnt.items() if c >= min_count]
    idx = {w: i for i, w in enumerate(vocab)}
    rows: list[int] = []
    cols: list[int] = []
    vals: list[float] = []
    for d in docs:
        ids = [idx[w] for w in d if w in idx]
        for i, a in enumerate(ids):
            for j in range(max(0, i - window), i):
                rows += [a, ids[j]]
                cols += [ids[j], a]
                vals += [1.0 / (i - j)] * 2
    n = len(vocab)
    m = sp.coo_matrix((vals, (rows, cols)), shape=(n, n)).tocsr().tocoo()
    total = m.sum()
    rs = np.asarray(m.tocsr().sum(1)).ravel()
    cs = np.asarray(m.tocsr().sum(0)).ravel() ** 0.75
    cs = cs / cs.sum()
    pmi = np.log(m.data / (rs[m.row] / total) / cs[m.col] / total)
    keep = pmi > 0
    ppmi = sp.csr_matrix((pmi[keep], (m.row[keep], m.col[keep])), shape=(n, n))
    u, s, _ = randomized_svd(ppmi, dim, random_state=0)
    v = u * np.sqrt(s)
    v /= np.linalg.norm(v, axis=1, keepdims=True) + 1e-9
    df = collections.Counter(w for d in docs for w in set(d))
    idf = np.array([np.log((len(docs) + 1) / (df[w] + 1)) + 1 for w in vocab])

    def doc_vectors(texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), dim), dtype=np.float32)
        for k, t in enumerate(texts):
            head, sep, _ = t.partition("\n")
            ids = [idx[w] for w in words(t) + (words(head) * 2 if sep else []) if w in idx]
            if ids:
                vec = (v[ids] * idf[ids, None]).sum(0)
                out[k] = vec / (np.linalg.norm(vec) + 1e-9)
        return out

    return doc_vectors


def embedding_variant(data: Data, weight: float) -> Fn:
    doc_vectors = embeddings(data)

    def fn(tr: list[str], ytr: list[str], te: list[str], seed: int) -> list[str]:
        a = make_pipeline(char_vec(), calibrated(seed)).fit(tr + data.tax_x, ytr + data.tax_y)
        b = LogisticRegression(C=10.0, max_iter=3000).fit(doc_vectors(tr + data.tax_x), ytr + data.tax_y)
        p = (1 - weight) * a.predict_proba(te) + weight * b.predict_proba(doc_vectors(te))
        return list(a.classes_[p.argmax(1)])

    return fn


def self_training(data: Data, threshold: float, weight: float) -> Fn:
    """Pseudo-label the unlabelled messages with a model that also knows an "other" class (the
    taxonomy rows of the 8 first-level classes that have no labelled message); keep the confident
    ones of the 7 classes."""

    def fn(tr: list[str], ytr: list[str], te: list[str], seed: int) -> list[str]:
        f = make_pipeline(char_vec(), calibrated(seed))
        f.fit(tr + data.tax_x + data.other_tax, ytr + data.tax_y + ["_other"] * len(data.other_tax))
        proba = f.predict_proba(data.unlabelled)
        best, conf = proba.argmax(1), proba.max(1)
        keep = [i for i in range(len(best)) if f.classes_[best[i]] != "_other" and conf[i] >= threshold]
        px, py = [data.unlabelled[i] for i in keep], [str(f.classes_[best[i]]) for i in keep]
        m = make_pipeline(char_vec(), calibrated(seed))
        w = np.array([1.0] * (len(tr) + len(data.tax_x)) + [weight] * len(px))
        m.fit(tr + data.tax_x + px, ytr + data.tax_y + py, calibratedclassifiercv__sample_weight=w)
        return list(m.predict(te))

    return fn


def label_spreading(data: Data, k: int, alpha: float, weight: float) -> Fn:
    """kNN graph (cosine of char TF-IDF) over train + test + unlabelled messages; spread the train
    labels; average with the product model's probabilities."""

    def fn(tr: list[str], ytr: list[str], te: list[str], seed: int) -> list[str]:
        a = make_pipeline(char_vec(), calibrated(seed)).fit(tr + data.tax_x, ytr + data.tax_y)
        classes = list(a.classes_)
        allx = tr + te + data.unlabelled
        m = normalize(char_vec().fit_transform(allx))
        n = len(allx)
        y0 = np.zeros((n, len(classes)))
        for i, y in enumerate(ytr):
            y0[i, classes.index(y)] = 1
        rows: list[int] = []
        cols: list[int] = []
        vals: list[float] = []
        for start in range(0, n, 1000):
            sim = (m[start : start + 1000] @ m.T).toarray()
            for r in range(sim.shape[0]):
                sim[r, start + r] = 0
            nn = np.argpartition(-sim, k, axis=1)[:, :k]
            for r in range(sim.shape[0]):
                rows += [start + r] * k
                cols += list(nn[r])
                vals += list(sim[r, nn[r]])
        w = sp.csr_matrix((vals, (rows, cols)), shape=(n, n))
        w = w.maximum(w.T)
        d = sp.diags(1 / np.sqrt(np.asarray(w.sum(1)).ravel() + 1e-9))
        s = d @ w @ d
        f = y0.copy()
        for _ in range(30):
            f = alpha * (s @ f) + (1 - alpha) * y0
        pb = f[len(tr) : len(tr) + len(te)]
        pb = pb / (pb.sum(1, keepdims=True) + 1e-9)
        p = (1 - weight) * a.predict_proba(te) + weight * pb
        return [classes[i] for i in p.argmax(1)]

    return fn


def variants(data: Data) -> dict[str, Callable[[], Fn | None]]:
    return {
        "product": lambda: product(data),
        "char-analyzer": lambda: char_variant(data, analyzer="char"),
        "char-analyzer-min_df2": lambda: char_variant(data, analyzer="char", min_df=2),
        "char_wb-min_df2": lambda: char_variant(data, min_df=2),
        "char_wb-1-2": lambda: char_variant(data, ngram_range=(1, 2)),
        "char_wb-1-4": lambda: char_variant(data, ngram_range=(1, 4)),
        "words": lambda: word_variant(data, char=False, ngrams=(1, 1)),
        "char+words": lambda: word_variant(data, char=True, ngrams=(1, 1)),
        "char+words-1-2": lambda: word_variant(data, char=True, ngrams=(1, 2)),
        "weak-only": lambda: weak_only(data),
        "weak-replies-w1": lambda: weak_variant(data, 1.0),
        "weak-replies-w0.5": lambda: weak_variant(data, 0.5),
        "embeddings-ensemble-0.3": lambda: embedding_variant(data, 0.3),
        "embeddings-only": lambda: embedding_variant(data, 1.0),
        "self-training-0.7-w0.5": lambda: self_training(data, 0.7, 0.5),
        "self-training-0.8-w1": lambda: self_training(data, 0.8, 1.0),
        "label-spreading-0.5": lambda: label_spreading(data, 10, 0.5, 0.5),
        "label-spreading-0.3": lambda: label_spreading(data, 10, 0.8, 0.3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("variant", nargs="*", help="default: all; --list names them")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args(argv)
    folder = args.data / "gov_messages_cn"
    if not (folder / "messages_labelled.csv").is_file():
        print(f"data not found in {folder} (use --data)", file=sys.stderr)
        return 2
    data = Data(folder)
    table = variants(data)
    if args.list:
        print("\n".join(table))
        return 0
    unknown = [v for v in args.variant if v not in table]
    if unknown:
        ap.error(f"unknown variant(s) {', '.join(unknown)}; --list names them")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    for name in args.variant or list(table):
        fn = table[name]()
        if fn is not None:
            run(data, name, fn, seeds)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
