"""The reply-quality scorer over a CSV of real message–reply pairs, and its agreement with hand labels.

The CSV has the columns of ``gov_messages_cn/full_messages_with_replies.csv`` (留言编号, 留言主题,
留言时间, 留言详情, 答复意见, 答复时间); the labels CSV has 留言编号 and one 0/1 column per mark
(relevant, what, who, when, explained), as written down in docs/reply_quality.md.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cityloop.hotline.handling.reply_quality import LIMIT_DAYS, Quality, content_of, score_reply

__all__ = ["LIMIT_DAYS", "content_of"]

ID, TITLE, RECEIVED, DETAIL, REPLY, REPLIED = (
    "留言编号",
    "留言主题",
    "留言时间",
    "留言详情",
    "答复意见",
    "答复时间",
)
NEEDED = (ID, TITLE, DETAIL, REPLY)
MARKS = ("relevant", "what", "who", "when", "explained")
_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")


class PairsError(ValueError):
    pass


def parse_time(value: str) -> datetime | None:
    value = (value or "").strip()
    for fmt in _FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


@dataclass
class Scored:
    id: str
    quality: Quality


def read_pairs(path: Path) -> list[dict]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in NEEDED if c not in (reader.fieldnames or [])]
            if missing:
                raise PairsError(f"--csv: {path} has no column(s) {', '.join(missing)}")
            return list(reader)
    except FileNotFoundError as exc:
        raise PairsError(f"--csv: no file {path}") from exc
    except UnicodeDecodeError as exc:
        raise PairsError(f"--csv: {path} is not UTF-8 ({exc.reason})") from exc


def score_row(row: dict) -> Quality:
    return score_reply(
        row.get(REPLY) or "",
        title=row.get(TITLE) or "",
        detail=row.get(DETAIL) or "",
        received=parse_time(row.get(RECEIVED, "")),
        replied=parse_time(row.get(REPLIED, "")),
    )


def score_pairs(rows: list[dict]) -> list[Scored]:
    return [Scored(str(row[ID]).strip(), score_row(row)) for row in rows]


def read_labels(path: Path) -> dict[str, dict[str, int]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [c for c in (ID, *MARKS) if c not in (reader.fieldnames or [])]
            if missing:
                raise PairsError(f"--labels: {path} has no column(s) {', '.join(missing)}")
            labels = {}
            for line, row in enumerate(reader, start=2):
                marks = {}
                for mark in MARKS:
                    value = (row[mark] or "").strip()
                    if value not in {"0", "1"}:
                        raise PairsError(f"--labels: line {line}: {mark} must be 0 or 1, not {value!r}")
                    marks[mark] = int(value)
                labels[str(row[ID]).strip()] = marks
            return labels
    except FileNotFoundError as exc:
        raise PairsError(f"--labels: no file {path}") from exc


def label_flagged(marks: dict[str, int]) -> bool:
    """The labelling rule's flag (docs/reply_quality.md)."""
    return (
        marks["relevant"] == 0 or marks["what"] + marks["who"] + marks["when"] < 2 or marks["explained"] == 0
    )


def predicted_marks(quality: Quality) -> dict[str, int]:
    parts = quality.details["completeness"]
    return {
        "relevant": int((quality.scores["relevance"] or 0) >= 0.5),
        "what": int(bool(parts["what"])),
        "who": int(bool(parts["who"])),
        "when": int(bool(parts["when"])),
        "explained": int((quality.scores["explanation"] or 0) > 0),
    }


def kappa(pairs: list[tuple[int, int]]) -> float | None:
    """Cohen's κ for two raters' 0/1 marks; None when chance agreement is total."""
    n = len(pairs)
    if not n:
        return None
    observed = sum(a == b for a, b in pairs) / n
    p_a, p_b = sum(a for a, _ in pairs) / n, sum(b for _, b in pairs) / n
    expected = p_a * p_b + (1 - p_a) * (1 - p_b)
    return None if expected == 1 else (observed - expected) / (1 - expected)


@dataclass
class Agreement:
    n: int
    missing: list[str]
    rows: list[tuple[str, float, float | None, int, int]]  # name, accuracy, κ, labelled 1s, scored 1s


def agreement(scored: list[Scored], labels: dict[str, dict[str, int]]) -> Agreement:
    by_id = {s.id: s.quality for s in scored}
    missing = [i for i in labels if i not in by_id]
    keys = [i for i in labels if i in by_id]
    rows = []
    for name in (*MARKS, "flagged"):
        pairs = []
        for i in keys:
            if name == "flagged":
                pairs.append((int(label_flagged(labels[i])), int(by_id[i].flagged)))
            else:
                pairs.append((labels[i][name], predicted_marks(by_id[i])[name]))
        accuracy = sum(a == b for a, b in pairs) / len(pairs) if pairs else 0.0
        rows.append((name, accuracy, kappa(pairs), sum(a for a, _ in pairs), sum(b for _, b in pairs)))
    return Agreement(len(keys), missing, rows)


def write_scores(scored: list[Scored], out: Path) -> None:
    with open(out, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            [ID, "relevance", "completeness", "explanation", "timeliness", "overall", "flagged", "problems"]
        )
        for s in scored:
            q = s.quality
            writer.writerow(
                [
                    s.id,
                    *("" if q.scores[d] is None else f"{q.scores[d]:.2f}" for d in q.scores),
                    f"{q.overall:.2f}",
                    int(q.flagged),
                    " ".join(q.problems()),
                ]
            )
