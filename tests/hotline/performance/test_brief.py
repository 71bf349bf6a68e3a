"""The leader's one-page brief: a month against the city's targets, as a page and as one A4 page of PDF."""

from __future__ import annotations

import re
from datetime import date, datetime

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from cityloop.core.actors import SYSTEM
from cityloop.hotline.loaders import synthetic
from cityloop.hotline.models import GovernanceTask, Request
from cityloop.hotline.performance import actions as performance_actions
from cityloop.hotline.performance import rates, stats
from cityloop.org.models import Department, Jurisdiction
from tests.clients import client_for

pytestmark = pytest.mark.django_db

OCTOBER = date(2026, 10, 1)


def pdf_text(data: bytes) -> str:
    """The text drawn on the pages: reportlab writes STSong-Light strings as UTF-16BE, PDF-escaped."""

    def unescape(literal: bytes) -> bytes:
        out, i = bytearray(), 0
        while i < len(literal):
            ch = literal[i]
            if ch == 0x5C:  # backslash
                nxt = literal[i + 1 : i + 4]
                octal = re.match(rb"[0-7]{1,3}", nxt)
                if octal:
                    out.append(int(octal.group(), 8))
                    i += 1 + len(octal.group())
                    continue
                out.append({ord("n"): 10, ord("r"): 13, ord("t"): 9}.get(literal[i + 1], literal[i + 1]))
                i += 2
                continue
            out.append(ch)
            i += 1
        return bytes(out)

    parts = re.findall(rb"\(((?:\\.|[^\\)])*)\) Tj", data, flags=re.S)
    return " ".join(unescape(p).decode("utf-16-be", errors="replace") for p in parts)


def page_count(data: bytes) -> int:
    return len(re.findall(rb"/Type /Page(?!s)", data))


@pytest.fixture
def history(city, leader_sun):
    synthetic.generate(city, n=600, months=4, seed=11)
    # 每月一题 on 金融街: 4 requests in the baseline month, 2 in October (the target: at most 2.8)
    for month, n in ((date(2026, 9, 1), 4), (OCTOBER, 2)):
        for i in range(n):
            Request.objects.create(
                city=city,
                tracking_no=f"T-{month:%m}-{i}",
                channel="web",
                title="金融街 夜间施工噪音",
                description="金融街工地夜里施工",
                created_at=timezone.make_aware(datetime(month.year, month.month, 10 + i, 12)),
            )
    GovernanceTask.objects.create(
        city=city,
        theme="金融街夜间施工扰民",
        place_key="金融街",
        measures="夜间施工审批收紧",
        reduction_pct=30,
        baseline_month=date(2026, 9, 1),
        deadline=date(2027, 3, 1),
        created_by=leader_sun,
        created_at=timezone.now(),
    ).departments.set(Department.objects.filter(city=city)[:1])
    performance_actions.recount_all(actor=SYSTEM)
    return city


def test_the_brief_is_one_a4_page_of_pdf_with_the_results_against_the_targets(history, leader_sun):
    answer = client_for(leader_sun, "en").get(reverse("leaders:brief"), {"month": "2026-10", "format": "pdf"})

    assert answer.status_code == 200 and answer["Content-Type"] == "application/pdf"
    data = answer.content
    assert page_count(data) == 1
    assert b"/MediaBox [ 0 0 595.2756 841.8898 ]" in data  # A4
    text = pdf_text(data)
    counts = stats.counts_by_unit("city", [OCTOBER], unit_ids=[history.pk])[history.pk]
    assert f"Received {counts.received} " in text
    for name, target in (("response", "95.0%"), ("resolution", "85.0%"), ("satisfaction", "90.0%")):
        value = rates.RATE_FUNCTIONS[name](counts)
        assert f"{value * 100:.1f}%" in text and target in text  # the tiny pack's targets
    assert "金融街夜间施工扰民" in text and "4 (2026-09)" in text and "target met" in text
    assert "Streets for focused governance" in text and "illustrative, not real" in text


def test_the_brief_stays_on_one_page_however_long_the_names(history, leader_sun):
    task = GovernanceTask.objects.get()
    for i in range(6):
        task.pk = None
        task.theme = f"{i} " + "很长的治理主题" * 28
        task.save()

    data = client_for(leader_sun).get(reverse("leaders:brief"), {"month": "2026-10", "format": "pdf"}).content

    assert page_count(data) == 1
    assert "治理类街乡" in pdf_text(data) and "领导简报" in pdf_text(data)


def test_the_brief_page_opens_on_the_last_complete_month_and_links_its_pdf(history, leader_sun):
    page = client_for(leader_sun).get(reverse("leaders:brief"))

    assert page.status_code == 200 and page.context["month"] == OCTOBER
    html = page.content.decode()
    assert "领导简报" in html and 'data-rate="resolution"' in html and "85.0%" in html
    header = re.search(r"<table[^>]*data-targets>.*?</thead>", html, flags=re.S)
    assert header and '<th scope="col">上月</th>' in header.group()  # the rate last month, not a rank
    assert "上月排名" not in header.group()
    assert "format=pdf" in html and "<script" not in html[html.index("<main") :]
    english = (
        client_for(leader_sun, "en").get(reverse("leaders:brief"), {"month": "2026-09"}).content.decode()
    )
    assert "Leader's brief 2026-09" in english and "Results against targets" in english
    dashboard = client_for(leader_sun).get(reverse("leaders:dashboard")).content.decode()
    assert reverse("leaders:brief") in dashboard


def test_a_district_brief_counts_the_district_only(history, leader_sun):
    d1 = Jurisdiction.objects.get(city=history, code="D1")

    answer = client_for(leader_sun, "en").get(
        reverse("leaders:brief"), {"month": "2026-10", "district": d1.pk}
    )

    brief = answer.context["brief"]
    expected = stats.counts_by_unit("district", [OCTOBER], unit_ids=[d1.pk])[d1.pk].received
    assert brief.district == d1 and brief.totals.received == expected
    assert {r.street.code for r in brief.focus.rows} == {"D1S1", "D1S2"}
    html = answer.content.decode()
    assert re.search(r"<h1>West District · Leader(&#x27;|')s brief 2026-10</h1>", html), html[:3000]


def test_the_brief_is_for_leaders_and_the_dispatch_centre(history, leader_sun, street_chen, citizen_wang):
    url = reverse("leaders:brief")
    assert client_for(leader_sun).get(url, {"format": "pdf"}).status_code == 200
    assert client_for(street_chen).get(url, {"format": "pdf"}).status_code == 403
    assert client_for(citizen_wang).get(url).status_code == 403
    assert Client().get(url).status_code == 302
