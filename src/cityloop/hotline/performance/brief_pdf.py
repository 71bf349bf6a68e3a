"""The brief as one A4 page of PDF (reportlab; Chinese in the built-in CID font STSong-Light, so it prints
anywhere without a font file). Everything sits in one frame that shrinks to fit: the brief is one page
whatever the names' lengths, never a second page.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import KeepInFrame, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from cityloop.hotline.performance.brief import Brief

FONT = "STSong-Light"
MARGIN = 14 * mm


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _pp(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:+.1f} pp"


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=8.5, leading=11, wordWrap="CJK")
    return {
        "title": ParagraphStyle("title", parent=base, fontSize=15, leading=19, spaceAfter=2),
        "sub": ParagraphStyle("sub", parent=base, fontSize=8, textColor=colors.HexColor("#5a6270")),
        "h2": ParagraphStyle("h2", parent=base, fontSize=10.5, leading=14, spaceBefore=6, spaceAfter=2),
        "cell": base,
        "note": ParagraphStyle(
            "note", parent=base, fontSize=7.5, leading=9.5, textColor=colors.HexColor("#5a6270")
        ),
    }


def _table(rows: list[list], widths: list[float], styles) -> Table:
    cells = [
        [c if isinstance(c, Paragraph) else Paragraph(escape(str(c)), styles["cell"]) for c in r]
        for r in rows
    ]
    table = Table(cells, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
                ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#d5d9e0")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eef1f5")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
            ]
        )
    )
    return table


def _width(fractions: list[float]) -> list[float]:
    usable = A4[0] - 2 * MARGIN
    return [usable * f for f in fractions]


def render(brief: Brief, *, rate_labels: dict) -> bytes:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    s = _styles()
    place = brief.district.label if brief.district else brief.city.label
    title = _("%(place)s · Leader's brief %(month)s") % {"place": place, "month": f"{brief.month:%Y-%m}"}
    story: list = [
        Paragraph(escape(title), s["title"]),
        Paragraph(
            escape(
                _(
                    "Requests received in %(month)s, against the city's targets; made %(made)s. "
                    "The same figures as the leaders' dashboard and the monthly report."
                )
                % {
                    "month": f"{brief.month:%Y-%m}",
                    "made": f"{timezone.localtime(brief.made_at):%Y-%m-%d %H:%M}",
                }
            ),
            s["sub"],
        ),
        Paragraph(escape(_("Results against targets")), s["h2"]),
    ]
    rows: list[list] = [
        [
            _("Indicator"),
            _("Result"),
            _("Target"),
            _("Against target"),
            pgettext("figure", "Last month"),
            _("Met target"),
        ]
    ]
    for line in brief.rates:
        met = "—" if line.met is None else (_("yes") if line.met else _("no"))
        rows.append(
            [
                rate_labels[line.name],
                _pct(line.value),
                _pct(line.target),
                _pp(line.gap),
                _pct(line.previous),
                met,
            ]
        )
    story.append(_table(rows, _width([0.26, 0.14, 0.14, 0.16, 0.16, 0.14]), s))
    t, before = brief.totals, brief.previous_totals
    story.append(Spacer(1, 3))
    story.append(
        Paragraph(
            escape(
                _(
                    "Received %(received)s (last month %(before)s) · closed %(closed)s · "
                    "still open %(open)s · replied late or overdue %(overdue)s · "
                    "orders overdue right now %(now)s"
                )
                % {
                    "received": t.received,
                    "before": before.received,
                    "closed": t.closed,
                    "open": t.open_at_end,
                    "overdue": t.overdue,
                    "now": brief.overdue_count,
                }
            ),
            s["cell"],
        )
    )
    if brief.overdue:
        story.append(Paragraph(escape(_("Most overdue orders right now")), s["h2"]))
        rows = [[_("Request"), _("Unit"), _("Due")]]
        for order in brief.overdue:
            unit = order.unit
            rows.append(
                [
                    f"{order.request.tracking_no} {order.request.title[:40]}",
                    unit.label if unit else "—",
                    f"{timezone.localtime(order.finish_due):%Y-%m-%d %H:%M}" if order.finish_due else "—",
                ]
            )
        story.append(_table(rows, _width([0.56, 0.26, 0.18]), s))
    story.append(Paragraph(escape(_("Hot categories")), s["h2"]))
    rows = [[_("Category"), _("Received"), _("Resolution rate"), _("Satisfaction rate")]]
    for category, counts, r in brief.hot_categories:
        rows.append([category.label, counts.received, _pct(r["resolution"]), _pct(r["satisfaction"])])
    if len(rows) == 1:
        rows.append([_("No requests in this period."), "", "", ""])
    story.append(_table(rows, _width([0.46, 0.18, 0.18, 0.18]), s))
    story.append(
        Paragraph(
            escape(
                _("Governance tasks (%(shown)s of %(all)s)")
                % {"shown": len(brief.tasks), "all": brief.tasks_count}
            ),
            s["h2"],
        )
    )
    rows = [[_("Theme"), _("Baseline"), _("Latest whole month"), _("Target"), _("Change"), _("Met target")]]
    for task, progress in brief.tasks:
        met = "—" if progress.met is None else (_("target met") if progress.met else _("not yet met"))
        rows.append(
            [
                task.theme,
                f"{progress.baseline} ({task.baseline_month:%Y-%m})",
                "—" if progress.latest is None else progress.latest,
                f"≤ {progress.target:g} (−{task.reduction_pct}%)",
                _pct(progress.change) if progress.change is not None else "—",
                met,
            ]
        )
    if len(rows) == 1:
        rows.append([_("No governance tasks yet."), "", "", "", "", ""])
    story.append(_table(rows, _width([0.36, 0.15, 0.13, 0.14, 0.1, 0.12]), s))
    f = brief.focus
    story.append(Paragraph(escape(_("Streets for focused governance")), s["h2"]))
    rows = [
        [
            _("Rank"),
            _("Street"),
            _("Requests"),
            _("Per 10,000 residents"),
            _("Change from last month"),
            rate_labels["response"],
            rate_labels["resolution"],
            rate_labels["satisfaction"],
        ]
    ]
    for row in f.listed:
        change = row.per_10k_change
        rows.append(
            [
                row.rank,
                row.street.label,
                row.received,
                f"{row.per_10k:.2f}" if row.per_10k is not None else "—",
                "—" if change is None else f"{change:+.2f}",
                *[_pct(v) for v in row.rates.values()],
            ]
        )
    if len(rows) == 1:
        rows.append(["", _("No street qualifies this month."), "", "", "", "", "", ""])
    story.append(_table(rows, _width([0.07, 0.25, 0.1, 0.12, 0.12, 0.115, 0.115, 0.11]), s))
    notes = [
        _(
            "The %(top)s streets with the most requests per 10,000 residents, among the streets with a known "
            "population and at least %(n)s requests in the month."
        )
        % {"top": f.top, "n": f.min_received}
    ]
    if f.no_population:
        notes.append(
            _("%(n)s streets with requests have no population and are not ranked.")
            % {"n": len(f.no_population)}
        )
    if f.population_illustrative:
        notes.append(_("The population figures are illustrative, not real."))
    story.append(Paragraph(escape(" ".join(notes)), s["note"]))

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=title,
        author="CityLoop",
        pageCompression=0,
    )
    # shrink, never split: one page whatever the lengths
    doc.build([KeepInFrame(doc.width, doc.height, story, mode="shrink")])
    return out.getvalue()
