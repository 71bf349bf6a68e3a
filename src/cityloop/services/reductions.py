"""The reduction report between two catalogue snapshots. Pure.

What is counted, per department and in total:

* items: published service items;
* materials: materials the applicant must hand in (source ``applicant``) in the unconditional
  checklist (conditional materials count too: they are still asked of someone). A material the
  government fetches (e-licence, data sharing) or that a written commitment replaces no longer
  counts: the applicant no longer provides it;
* certificates (证明): such materials that are certificates issued by some authority;
* visits: the on-site visits each item needs, summed.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MEASURES = ("items", "materials", "certificates", "visits")


def counts_of(item: Mapping[str, Any]) -> dict[str, int]:
    provided = [m for m in item.get("materials") or [] if m.get("source", "applicant") == "applicant"]
    return {
        "items": 1,
        "materials": len(provided),
        "certificates": sum(1 for m in provided if m.get("is_certificate")),
        "visits": int(item.get("visits") or 0),
    }


def by_department(snapshot: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for item in snapshot.get("items") or []:
        dept = item.get("department") or "?"
        row = out.setdefault(
            dept, {"name": item.get("department_name") or dept, **dict.fromkeys(MEASURES, 0)}
        )
        for k, v in counts_of(item).items():
            row[k] += v
    return out


@dataclass(frozen=True)
class Row:
    department: str
    name: str
    before: dict[str, int]
    after: dict[str, int]

    def removed(self, measure: str) -> int:
        return self.before[measure] - self.after[measure]

    def percent(self, measure: str) -> float | None:
        if not self.before[measure]:
            return None
        return 100.0 * self.removed(measure) / self.before[measure]


def compare(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Row]:
    """One row per department present in either snapshot, then a ``TOTAL`` row."""
    a, b = by_department(old), by_department(new)
    zero = dict.fromkeys(MEASURES, 0)
    rows = []
    for dept in sorted(set(a) | set(b)):
        name = (b.get(dept) or a.get(dept))["name"]
        rows.append(
            Row(
                dept,
                name,
                {k: (a.get(dept) or zero)[k] for k in MEASURES},
                {k: (b.get(dept) or zero)[k] for k in MEASURES},
            )
        )
    total_before = {k: sum(r.before[k] for r in rows) for k in MEASURES}
    total_after = {k: sum(r.after[k] for r in rows) for k in MEASURES}
    rows.append(Row("TOTAL", "total", total_before, total_after))
    return rows


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    while _width(text) > width:
        text = text[:-1]
    return text + " " * (width - _width(text))


def format_table(rows: list[Row]) -> str:
    """Plain-text table; Chinese names are padded by display width so the columns line up."""
    header = f"{'department':<28}" + "".join(f"{m:>22}" for m in MEASURES)
    lines = [header, "-" * len(header)]
    for r in rows:
        cells = []
        for m in MEASURES:
            pct = r.percent(m)
            pct_text = "  -  " if pct is None else f"{pct:5.1f}%"
            cells.append(f"{r.before[m]:>5} → {r.after[m]:<4} {pct_text:>7}")
        label = f"{r.department} {r.name}" if r.department != "TOTAL" else "TOTAL"
        lines.append(_pad(label, 28) + "".join(f"{c:>22}" for c in cells))
    return "\n".join(lines)
