"""Reading messages from a CSV and writing the two hot-issue tables.

The tables follow the two output tables of the 2020 TipDM Cup problem C (智慧政务): 热点问题表
(``hot_issues.csv``) and 热点问题留言明细表 (``hot_issue_messages.csv``).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cityloop.hotline.hotissues.engine import Issue, Message

ISSUE_COLUMNS = ["rank", "issue_id", "heat", "time_range", "place_or_group", "description"]
MESSAGE_COLUMNS = ["issue_id", "message_id", "user", "subject", "time", "text", "likes", "dislikes"]
TIME_FORMATS = (
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d",
    "%Y-%m-%d",
)
TIME_RULE = "a time like 2019/2/28 11:25:05 or 2019-02-28 11:25 (date alone is accepted)"


class TableError(ValueError):
    """The file cannot be read as messages at all (missing file or column, not UTF-8 CSV)."""


@dataclass(frozen=True)
class Columns:
    text: Sequence[str]
    time: str
    id: str | None = None
    user: str | None = None
    likes: str | None = None
    dislikes: str | None = None
    subject: str | None = None

    def named(self) -> list[tuple[str, str]]:
        """(option, column) for every column asked for, to check them against the header."""
        pairs = [("--text-cols", c) for c in self.text] + [("--time-col", self.time)]
        for option, col in (
            ("--id-col", self.id),
            ("--user-col", self.user),
            ("--likes-col", self.likes),
            ("--dislikes-col", self.dislikes),
            ("--subject-col", self.subject),
        ):
            if col:
                pairs.append((option, col))
        return pairs


@dataclass
class ReadResult:
    messages: list[Message] = field(default_factory=list)
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line, reason)
    empty: int = 0  # rows without any text: nothing to group, counted


def parse_time(value: str) -> datetime | None:
    value = value.strip()
    for fmt in TIME_FORMATS:
        try:
            return datetime.strptime(value, fmt)
        except ValueError:
            continue
    return None


def _count(value: str) -> int | None:
    value = value.strip()
    if not value:
        return 0
    try:
        number = float(value)
    except ValueError:
        return None
    if number < 0 or number != int(number):
        return None
    return int(number)


def read_messages(path: str | Path, columns: Columns) -> ReadResult:
    """Every row of the CSV as a message; a row with a bad time or count is listed, not kept."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"--csv: file not found: {path}")
    csv.field_size_limit(max(csv.field_size_limit(), 16 * 1024 * 1024))
    result = ReadResult()
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                raise TableError(f"--csv: {path} is empty (no header row)")
            names = [h.strip() for h in header]
            missing = [f"{option} {col!r}" for option, col in columns.named() if col not in names]
            if missing:
                raise TableError(
                    f"--csv: {path} has no column {', '.join(missing)}; its columns are: {', '.join(names)}"
                )
            at = {col: names.index(col) for _, col in columns.named()}
            for record in reader:
                line = reader.line_num
                if not record or (len(record) == 1 and not record[0].strip()):
                    continue
                record = record + [""] * (len(names) - len(record))
                message, reason = _message(record, at, columns, line)
                if reason:
                    result.bad.append((line, reason))
                elif message is None:
                    result.empty += 1
                else:
                    result.messages.append(message)
    except UnicodeDecodeError as exc:
        raise TableError(
            f"--csv: {path} is not UTF-8 text (bad byte at offset {exc.start}); save it as UTF-8 CSV"
        ) from exc
    except csv.Error as exc:
        raise TableError(f"--csv: {path} is not a readable CSV file: {exc}") from exc
    return result


def _message(
    record: list[str], at: dict[str, int], columns: Columns, line: int
) -> tuple[Message | None, str]:
    raw_time = record[at[columns.time]]
    when = parse_time(raw_time)
    if when is None:
        return None, f"column {columns.time!r} (--time-col): {raw_time.strip()!r} is not {TIME_RULE}"
    counts = {}
    for option, col in (("--likes-col", columns.likes), ("--dislikes-col", columns.dislikes)):
        if col:
            n = _count(record[at[col]])
            if n is None:
                return (
                    None,
                    f"column {col!r} ({option}): {record[at[col]].strip()!r} is not a whole number ≥ 0",
                )
            counts[option] = n
    body = "\n".join(v for c in columns.text if (v := record[at[c]].strip()))
    subject = record[at[columns.subject]].strip() if columns.subject else ""
    if not body and not subject:
        return None, ""
    return (
        Message(
            id=record[at[columns.id]].strip() if columns.id else str(line),
            user=record[at[columns.user]].strip() if columns.user else "",
            subject=subject,
            body=body,
            time=when,
            likes=counts.get("--likes-col", 0),
            dislikes=counts.get("--dislikes-col", 0),
        ),
        "",
    )


def write_tables(issues: Sequence[Issue], out: str | Path) -> tuple[Path, Path]:
    """Write ``hot_issues.csv`` and ``hot_issue_messages.csv`` (UTF-8, header row) into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    issues_path, messages_path = out / "hot_issues.csv", out / "hot_issue_messages.csv"
    with open(issues_path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(ISSUE_COLUMNS)
        for rank, issue in enumerate(issues, 1):
            w.writerow([rank, rank, f"{issue.heat:.2f}", issue.time_range, issue.label, issue.description])
    with open(messages_path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(MESSAGE_COLUMNS)
        for rank, issue in enumerate(issues, 1):
            for m in issue.messages:
                w.writerow(
                    [
                        rank,
                        m.id,
                        m.user,
                        m.subject,
                        m.time.strftime("%Y/%m/%d %H:%M:%S"),
                        m.body,
                        m.likes,
                        m.dislikes,
                    ]
                )
    return issues_path, messages_path
