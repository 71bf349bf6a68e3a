"""Group messages into issues, day by day, and rank the issues by heat.

One engine serves both uses: the batch run (``find_issues``) feeds every message in time order, one
day at a time, through the same ``IssueEngine`` that a live intake or a replay feeds as days pass,
so a replay's final issues are the batch's issues.

Each message joins the live issue it is most like, or starts one (single-pass clustering, as in
topic detection and tracking). It may join an issue when

* the issue's main place or group (named by at least a third of its messages, places.py) is one
  the message names too, the issue had a message in the last ``window_days``, and the message says
  a similar thing: cosine to the issue's centroid, in character 1–2-gram TF-IDF with the place names
  taken out, of at least ``place_similarity`` (``loose_similarity`` when only a road is shared, a
  road being long and shared by many estates, or only a shorter writing of the name);
* or, for a message that names no place, the issue had a message in the last ``recent_days`` and
  the texts are near copies (``text_similarity``).

At the end of each day, an issue that grew is merged with a live issue about the same place whose
centroid is at least ``merge_similarity`` alike: two halves of one problem that started apart.
The IDF is computed from the messages seen so far, so a replay never uses a later message's words.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer

from cityloop.hotline.hotissues import heat as heat_rules
from cityloop.hotline.hotissues.places import extract_districts, extract_groups, extract_places, place_tails

N_FEATURES = 2**18
BODY_CHARS = 600
PLACE_CHARS = 300  # the problem is stated early; long letters' later paragraphs add noise


@dataclass(frozen=True)
class Message:
    id: str
    user: str
    subject: str
    body: str
    time: datetime
    likes: int = 0
    dislikes: int = 0

    @property
    def caller(self) -> str:
        return self.user or f"#{self.id}"  # without a user column each message is its own caller


@dataclass(frozen=True)
class Settings:
    window_days: int = 365
    recent_days: int = 30
    place_similarity: float = 0.1
    loose_similarity: float = 0.2  # when only a road or a shorter writing is shared: ask for more
    text_similarity: float = 0.6
    merge_similarity: float = 0.2  # two issues about one place whose centroids are this close are one
    min_callers: int = 2  # an issue is raised by more than one person


@dataclass
class Issue:
    messages: list[Message]
    terms: heat_rules.HeatTerms
    label: str
    description: str
    flagged: date | None = None
    id: int = 0  # the engine's id: the index of its first message

    @property
    def heat(self) -> float:
        return self.terms.heat

    @property
    def time_range(self) -> str:
        first, last = self.messages[0].time, self.messages[-1].time
        return f"{first:%Y/%m/%d} 至 {last:%Y/%m/%d}"


@dataclass
class _Prepared:
    message: Message
    keys: frozenset[str]
    names: dict[str, str]  # key -> name as written
    roads: frozenset[str]  # the keys that are roads
    groups: list[str]
    districts: list[str]


_DISTRICT_TEXT = re.compile(r"[A-Z]\d{0,2}[市区县省]|西地省")


def _prepare(message: Message) -> tuple[_Prepared, str]:
    # The place a message is about is the one its subject names; only a subject that names none
    # sends us to the opening lines. Places further on are mostly in passing (where the writer
    # once lived, a road on the way) and would chain unrelated messages together.
    text = f"{message.subject}\n{message.body[:PLACE_CHARS]}"
    places = extract_places(message.subject) if message.subject else []
    if places:
        named = {p.key for p in places}
        places += [p for p in extract_places(text) if p.kind != "road" and p.key not in named]
    else:
        places = extract_places(text)
    groups = extract_groups(text, places)
    problem = f"{message.subject}\n{message.subject}\n{message.body[:BODY_CHARS]}"
    for place in sorted(places, key=lambda p: -len(p.name)):
        problem = problem.replace(place.name, " ")
    problem = _DISTRICT_TEXT.sub(" ", problem)
    names = {p.key: p.name for p in places} | {g: g for g in groups}
    # A key also answers to its tails (买万科魅力之城 → 魅力之城), down to a name of two characters
    # and a place word: writers put different words in front of the same place.
    keys = set(names)
    for p in places:
        keys.update(place_tails(p))
    roads = frozenset(k for p in places if p.kind == "road" for k in (p.key, *place_tails(p)))
    return _Prepared(message, frozenset(keys), names, roads, groups, extract_districts(text)), problem


@dataclass
class _Cluster:
    members: list[int]
    centroid: sparse.csr_matrix  # sum of the members' log term counts
    keys: Counter[str] = field(default_factory=Counter)
    last: datetime = datetime.min
    flagged: date | None = None
    main: frozenset[str] = frozenset()

    def add(
        self, members: list[int], centroid: sparse.csr_matrix, keys: Iterable[str], last: datetime
    ) -> None:
        self.members = sorted(self.members + members)
        self.centroid = self.centroid + centroid
        self.keys.update(keys)
        self.last = max(self.last, last)
        # The places or groups at least a third of the messages name: what the issue is about.
        need = max(1, len(self.members) / 3)
        self.main = frozenset(k for k, n in self.keys.items() if n >= need)

    def main_keys(self) -> frozenset[str]:
        return self.main


class IssueEngine:
    """Messages go in day by day (``add_day``); ``issues()`` gives the issues so far, hottest first.

    Single-pass clustering, as in topic detection and tracking: each message joins the most similar
    live issue (cosine to the issue's centroid) about the same place, or starts a new one. Comparing
    with the centroid rather than with any one member keeps a chain of loosely similar messages
    (a long road, a city-wide company) from swallowing unrelated problems.
    """

    def __init__(self, settings: Settings | None = None):
        self.settings = settings or Settings()
        self._hasher = HashingVectorizer(
            analyzer="char", ngram_range=(1, 2), n_features=N_FEATURES, alternate_sign=False, norm=None
        )
        self._items: list[_Prepared] = []
        self._rows: list[sparse.csr_matrix] = []  # log term counts per message
        self._df = np.zeros(N_FEATURES)
        self._dense = np.zeros(N_FEATURES)  # scratch for _similarities, kept all zero between calls
        self._clusters: dict[int, _Cluster] = {}  # id (its first message's index) -> cluster
        self._cluster_of: list[int] = []
        self._by_key: dict[str, set[int]] = {}  # key -> clusters whose messages name it
        self.day: date | None = None

    # -- feeding -----------------------------------------------------------------------------------

    def add_day(self, messages: Sequence[Message]) -> list[int]:
        """Add one day's messages (in time order); return the ids of issues flagged today."""
        if not messages:
            return []
        start = len(self._items)
        prepared = [_prepare(m) for m in messages]
        counts = self._hasher.transform([problem for _, problem in prepared]).tocsr()
        counts.data = np.log1p(counts.data)
        for r in range(counts.shape[0]):
            self._df[counts.indices[counts.indptr[r] : counts.indptr[r + 1]]] += 1
        idf = np.log((1 + start + len(messages)) / (1 + self._df)) + 1
        touched = set()
        for k, (item, _) in enumerate(prepared):
            i = start + k
            self._items.append(item)
            self._rows.append(counts[k])
            touched.add(self._assign(i, item, counts[k], idf))
        touched = self._merge(touched, idf)
        today = messages[-1].time
        flagged = []
        for cid in sorted(touched):
            cluster = self._clusters[cid]
            if cluster.flagged is None and heat_rules.warns(
                [(self._items[m].message.time, self._items[m].message.caller) for m in cluster.members], today
            ):
                cluster.flagged = today.date()
                flagged.append(cid)
        self.day = today.date()
        return flagged

    def _candidates(self, item: _Prepared) -> list[tuple[int, float]]:
        """Live clusters this message may join, each with the similarity it needs."""
        s, now = self.settings, item.message.time
        out = []
        for cid in sorted({cid for key in item.keys for cid in self._by_key.get(key, ())}):
            c = self._clusters[cid]
            shared = item.keys & c.main_keys()
            if shared and now - c.last <= timedelta(days=s.window_days):
                # a place named in full, not a road: the usual bar; a road or only a shorter
                # writing (经济学院 of 财政经济学院, another school): the higher one
                exact = (shared & item.names.keys()) - item.roads
                out.append((cid, s.place_similarity if exact else s.loose_similarity))
        if not item.keys:
            recent = timedelta(days=s.recent_days)
            out += [(cid, s.text_similarity) for cid, c in self._clusters.items() if now - c.last <= recent]
        return out

    def _assign(self, i: int, item: _Prepared, row: sparse.csr_matrix, idf: np.ndarray) -> int:
        candidates = self._candidates(item)
        best, best_margin = None, 0.0
        if candidates:
            sims = self._similarities(row, [self._clusters[c].centroid for c, _ in candidates], idf)
            for (cid, need), sim in zip(candidates, sims, strict=True):
                if sim >= need and sim - need >= best_margin:
                    best, best_margin = cid, sim - need
        if best is None:
            best = i
            self._clusters[i] = _Cluster([], sparse.csr_matrix(row.shape))
        self._clusters[best].add([i], row, sorted(item.keys), item.message.time)
        self._cluster_of.append(best)
        for key in sorted(item.keys):
            self._by_key.setdefault(key, set()).add(best)
        return best

    def _similarities(
        self, vector: sparse.csr_matrix, others: list[sparse.csr_matrix], idf: np.ndarray
    ) -> list[float]:
        """Cosines of ``vector`` with each of ``others`` under ``idf``.

        One dense copy of ``vector``, and all the others' terms gathered at once: a message that
        names no place is compared with every issue of the last ``recent_days`` (hundreds), and a
        Python loop over them was most of a period's run (10 s of the demo city's six months).
        """
        if not others:
            return []
        dense = self._dense
        w = vector.data * idf[vector.indices]
        norm = float(np.sqrt(w @ w)) or 1.0
        dense[vector.indices] = w / norm
        datas = [o.data for o in others]  # canonical rows: data and indices have the row's length
        lengths = np.fromiter(map(len, datas), dtype=np.intp, count=len(others))
        indices = np.concatenate([o.indices for o in others])
        v = np.concatenate(datas) * idf[indices]
        row = np.repeat(np.arange(len(others)), lengths)
        dots = np.bincount(row, weights=v * dense[indices], minlength=len(others))
        norms = np.sqrt(np.bincount(row, weights=v * v, minlength=len(others)))
        dense[vector.indices] = 0.0
        return [float(d / n) if n else 0.0 for d, n in zip(dots, norms, strict=True)]

    def _merge(self, touched: set[int], idf: np.ndarray) -> set[int]:
        """Join today's issues with live issues about the same place that turned out to be the same.

        Two halves of one issue start apart when their first messages happen to be worded apart;
        once each has a few messages their centroids show it.
        """
        s = self.settings
        out = set()
        for cid in sorted(touched):
            if cid not in self._clusters:
                continue  # merged into an older one already
            c = self._clusters[cid]
            others = sorted({o for k in c.main_keys() for o in self._by_key.get(k, ()) if o != cid})
            others = [
                o
                for o in others
                if abs((self._clusters[o].last - c.last).days) <= s.window_days
                and c.main_keys() & self._clusters[o].main_keys()
            ]
            if others:
                sims = self._similarities(c.centroid, [self._clusters[o].centroid for o in others], idf)
                for o, sim in zip(others, sims, strict=True):
                    if sim >= s.merge_similarity and o in self._clusters and cid in self._clusters:
                        cid = self._join(min(o, cid), max(o, cid))
            out.add(cid)
        return out

    def _join(self, keep: int, gone: int) -> int:
        a, b = self._clusters[keep], self._clusters.pop(gone)
        a.add(b.members, b.centroid, sorted(b.keys.elements()), b.last)
        if b.flagged and (a.flagged is None or b.flagged < a.flagged):
            a.flagged = b.flagged
        for i in b.members:
            self._cluster_of[i] = keep
        for key in sorted(b.keys):
            ids = self._by_key[key]
            ids.discard(gone)
            ids.add(keep)
        return keep

    # -- reading -----------------------------------------------------------------------------------

    def issue_of(self, message_index: int) -> int:
        return self._cluster_of[message_index]

    def flagged_day(self, cid: int) -> date | None:
        return self._clusters[cid].flagged

    def groups(self) -> dict[int, list[int]]:
        return {cid: list(c.members) for cid, c in self._clusters.items()}

    def issues(self, top: int | None = None) -> list[Issue]:
        """Issues raised by at least ``min_callers`` people, hottest first (ties: earlier first)."""
        found = []
        for cid, cluster in self._clusters.items():
            msgs = [self._items[i].message for i in cluster.members]
            if len({m.caller for m in msgs}) < self.settings.min_callers:
                continue
            terms = heat_rules.heat_terms(
                [(m.time, m.caller, m.likes, m.dislikes) for m in msgs], focus=self._focus(cluster.members)
            )
            found.append((cid, cluster, terms))
        found.sort(key=lambda x: (-x[2].heat, x[0]))
        if top is not None:
            found = found[:top]
        return [
            Issue(
                messages=sorted((self._items[i].message for i in c.members), key=lambda m: (m.time, m.id)),
                terms=terms,
                label=self._label(c.members),
                description=self._description(c.members),
                flagged=c.flagged,
                id=cid,
            )
            for cid, c, terms in found
        ]

    def _focus(self, members: list[int]) -> float:
        """The share of the messages that name the place or group most of them name."""
        keys = Counter(k for i in members for k in self._items[i].keys)
        return _most_common(keys)[1] / len(members) if keys else 0.0

    def _label(self, members: list[int]) -> str:
        """The place or group most of the issue's messages name, with its district if they agree."""
        items = [self._items[i] for i in members]
        keys = Counter(k for it in items for k in it.names)
        if not keys:
            return ""
        key, n = _most_common(keys)
        groups = Counter(g for it in items for g in it.groups)
        if groups:
            group, g_n = _most_common(groups)
            if g_n * 2 >= n and key in group:
                key = group
        names = Counter(it.names[key] for it in items if key in it.names)
        name = _most_common(names)[0]
        districts = Counter(d for it in items for d in it.districts)
        if districts:
            district, d_n = _most_common(districts)
            if d_n * 2 > len(items):
                name = district + name
        return name

    def _description(self, members: list[int]) -> str:
        """The subject of the message most like the others (the issue's medoid)."""
        items = [self._items[i] for i in members]
        if len(items) == 1:
            return items[0].message.subject or items[0].message.body[:60]
        idf = np.log((1 + len(self._items)) / (1 + self._df)) + 1
        rows = _weighted(sparse.vstack([self._rows[i] for i in members]).tocsr(), idf)
        centrality = np.asarray((rows @ rows.T).sum(axis=1)).ravel()
        best = items[int(np.argmax(centrality))].message
        return best.subject or best.body[:60]


def _most_common(counts: Counter[str]) -> tuple[str, int]:
    """The most frequent; on a tie the longest writing, then the first in code order (stable)."""
    return min(counts.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))


def _weighted(counts: sparse.csr_matrix, idf: np.ndarray) -> sparse.csr_matrix:
    rows = counts.multiply(idf[np.newaxis, :]).tocsr()
    norms = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
    norms[norms == 0] = 1.0
    return sparse.diags(1.0 / norms) @ rows


def by_day(messages: Iterable[Message]) -> list[list[Message]]:
    """Messages in time order, split into calendar days (input order breaks ties)."""
    days: list[list[Message]] = []
    for m in sorted(messages, key=lambda m: m.time):
        if days and days[-1][0].time.date() == m.time.date():
            days[-1].append(m)
        else:
            days.append([m])
    return days


@dataclass
class Run:
    engine: IssueEngine
    issues: list[Issue]  # the top ones asked for, hottest first
    messages_in_issues: int  # in every issue, not only the top
    issue_count: int


def find_issues(
    messages: Iterable[Message], *, top: int | None = None, settings: Settings | None = None
) -> Run:
    """The batch run: every message through one engine, a day at a time."""
    engine = IssueEngine(settings)
    for day in by_day(messages):
        engine.add_day(day)
    ranked = engine.issues()
    return Run(
        engine, ranked[:top] if top is not None else ranked, sum(len(i.messages) for i in ranked), len(ranked)
    )
