"""Requests filed at set times in the tiny city, for the hot-issue pages, tasks and warnings."""

from __future__ import annotations

import itertools
from datetime import timedelta

from django.utils import timezone

from cityloop.hotline.models import Request, Supporter
from cityloop.org.models import Category, Jurisdiction

_numbers = itertools.count(1)

NOISE = [
    ("丽发新城小区附近搅拌站噪音扰民", "丽发新城小区旁边的搅拌站晚上一直施工，噪音太大，影响休息"),
    ("投诉丽发新城小区旁搅拌站夜间噪音", "丽发新城小区附近的搅拌站夜里施工噪音扰民，无法入睡"),
    ("丽发新城小区搅拌站噪音严重扰民", "丽发新城小区边上搅拌站深夜施工，噪音和粉尘严重"),
    ("丽发新城小区附近搅拌站半夜施工噪音", "搅拌站就在丽发新城小区旁边，半夜施工噪音扰民"),
]


def file(
    city,
    title: str,
    description: str,
    *,
    days_ago: float,
    phone: str = "",
    citizen=None,
    street="D1S1",
    channel: str = "phone",
):
    """A request filed ``days_ago`` days before now, at street ``street`` (category 01.01.01)."""
    street_row = Jurisdiction.objects.get(city=city, code=street)
    return Request.objects.create(
        city=city,
        tracking_no=f"HI{next(_numbers):06d}",
        channel=channel,
        title=title,
        description=description,
        caller_phone=phone,
        citizen=citizen,
        district=street_row.parent,
        street=street_row,
        category=Category.objects.get(city=city, code="01.01.01"),
        created_at=timezone.now() - timedelta(days=days_ago),
    )


def noise_issue(city, *, callers: int = 4, days_ago: float = 1, repeat_caller: bool = True):
    """The mixing plant next to 丽发新城: ``callers`` different phones over the last days, the first
    one calling twice; returns the requests, oldest first."""
    rows = []
    for k in range(callers):
        title, text = NOISE[k % len(NOISE)]
        rows.append(file(city, title, text, days_ago=days_ago + callers - k, phone=f"1380000{k:04d}"))
    if repeat_caller:
        rows.append(file(city, *NOISE[1], days_ago=days_ago, phone="138 0000-0000"))
    return rows


def support(request, n: int):
    for k in range(n):
        Supporter.objects.create(request=request, phone_hash=f"h{request.pk}-{k}", at=timezone.now())
