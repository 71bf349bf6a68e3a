"""The text-match suggestion read from per-process indexes gives what reading the latest 300
classified requests and the category names on every call gave (the reference below, as it was), and
sees a request classified since the last call."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from django.utils import timezone

from cityloop.hotline.handling.dispatch import classify_request
from cityloop.hotline.intake import suggest
from cityloop.hotline.models import Channel, Request
from cityloop.org import queries as org_queries

pytestmark = pytest.mark.django_db


def reference(city, text: str):
    """suggest.by_text_match before the indexes: everything read and tokenised on every call."""
    grams = suggest._grams(text)
    if not grams:
        return None
    best, best_score = None, 2
    latest = (
        Request.objects.filter(city=city, category__isnull=False)
        .order_by("-created_at")
        .values_list("title", "description", "category_id")[: suggest.PRECEDENTS]
    )
    for title, description, category_id in latest:
        shared = suggest._shared(grams, suggest._grams(f"{title}\n{description}"))
        if shared > best_score:
            best, best_score = category_id, shared
    if best is not None:
        return org_queries.categories(city, pk=best).first()
    rows = list(org_queries.categories(city).values_list("pk", "name", "name_en", "parent_id", "depth"))
    own = {
        pk: suggest._shared(grams, suggest._grams(f"{name} {name_en or ''}"))
        for pk, name, name_en, _p, _d in rows
    }
    parent_of = {pk: parent for pk, _n, _e, parent, _d in rows}

    def score(pk: int) -> float:
        total: float = own[pk]
        node = parent_of[pk]
        while node is not None:
            total += own.get(node, 0) / 2
            node = parent_of.get(node)
        return total

    scored = [(score(pk), depth, pk) for pk, _n, _e, _p, depth in rows if own[pk]]
    return org_queries.categories(city, pk=max(scored)[2]).first() if scored else None


PHRASES = [
    "楼里停水了",
    "一整天没有水",
    "水压很低",
    "热水器打不着火",
    "人行道上有人摆摊",
    "卖水果的占道",
    "门口乱堆乱放",
    "杂物没人清理",
    "路灯不亮",
    "晚上很黑",
    "噪音扰民",
    "施工到半夜",
    "垃圾没人收",
    "小区停车难",
    "油烟很大",
    "water outage since morning",
    "street vendor blocking the sidewalk",
    "garbage piled up",
    "low pressure in the building",
    "noise at night",
]
QUESTIONS = [
    *PHRASES,
    "又停水了",
    "楼下又有人摆摊了",
    "家门口的杂物",
    "没有水也没有通知",
    "请问护照怎么办理",
    "12345",
    "the water is out again",
    "vendors again",
    "乱堆",
    "供水",
    "水务热线",
    "市容环境怎么样",
    "城市管理",
    "hello",
    "垃圾和噪音",
    "路灯",
    "停车",
    "Water supply",
    "clutter everywhere",
    "",
]


def _precedents(city, n: int, *, seed: int, start: int) -> list[Request]:
    """``n`` classified requests with texts drawn from PHRASES; created_at not in id order."""
    rng = random.Random(seed)
    leaves = list(org_queries.categories(city, depth=3))
    now = timezone.now()
    rows = [
        Request(
            city=city,
            tracking_no=f"T{start + i:08d}",
            channel=Channel.PHONE,
            title=rng.choice(PHRASES),
            description="，".join(rng.sample(PHRASES, rng.randint(1, 3))),
            category=rng.choice(leaves),
            created_at=now - timedelta(minutes=rng.randint(0, 100_000)),
        )
        for i in range(n)
    ]
    return Request.objects.bulk_create(rows)


def _a_while_later() -> None:
    """As if the recheck intervals had passed (the monotonic clock is not pinned)."""
    for index in suggest._precedent_indexes.values():
        index.looked -= suggest.PRECEDENTS_RECHECK_SECONDS + 0.1
    for names in suggest._name_indexes.values():
        names.checked -= suggest.NAMES_RECHECK_SECONDS + 0.1


def _same_answers(city) -> int:
    _a_while_later()
    matched = 0
    for text in QUESTIONS:
        expected = reference(city, text)
        assert suggest.by_text_match(city, text) == expected, text
        matched += expected is not None
    return matched


def test_the_indexes_answer_as_reading_everything_did(city):
    suggest.forget_indexes()
    _precedents(city, 40, seed=1, start=0)
    assert _same_answers(city) > len(QUESTIONS) // 2
    # past the 300 of the window, with requests newer and older than the window's oldest
    _precedents(city, 320, seed=2, start=1000)
    _same_answers(city)
    _precedents(city, 30, seed=3, start=2000)
    _same_answers(city)
    # a request taken back into the window by its new category, others reclassified
    leaves = list(org_queries.categories(city, depth=3))
    for request in Request.objects.filter(city=city).order_by("-created_at")[:40:3]:
        request.category = leaves[(leaves.index(request.category) + 1) % len(leaves)]
        request.save()
    _same_answers(city)


def test_a_request_classified_since_the_last_look_is_seen_by_the_next(city, submit, dispatcher_li):
    suggest.forget_indexes()
    assert suggest.by_text_match(city, "人行道上有人摆摊").code == "01.01.02"  # no request yet: the names'
    submit(category="02.01.02", description="人行道上有人摆摊卖水果")  # a first precedent, filed classified
    _a_while_later()
    assert suggest.by_text_match(city, "人行道上有人摆摊").code == "02.01.02"
    assert suggest.by_text_match(city, "小区里的健身器材坏了，没人修") is None
    unclassified = submit(category="", description="小区里的健身器材坏了")
    assert unclassified.category is None
    classify_request(unclassified, org_queries.category(city, "02.01.02"), actor=dispatcher_li)
    _a_while_later()
    assert suggest.by_text_match(city, "小区里的健身器材坏了，没人修").code == "02.01.02"
    # filed with a category: seen by the next look too
    submit(category="01.01.01", description="楼道里堆满了旧家具")
    _a_while_later()
    assert suggest.by_text_match(city, "楼道里又堆满了旧家具").code == "01.01.01"


def test_within_the_recheck_interval_a_suggestion_reads_nothing(city, submit, django_assert_num_queries):
    suggest.forget_indexes()
    submit(category="02.01.02", description="人行道上有人摆摊卖水果")
    _a_while_later()
    assert suggest.by_text_match(city, "人行道上有人摆摊").code == "02.01.02"
    submit(category="01.01.01", description="人行道上有人摆摊卖水果，又来了")  # newer and more alike
    with django_assert_num_queries(0):
        # the precedent, the names and the category all come from the worker's memory
        assert suggest.by_text_match(city, "人行道上有人摆摊").code == "02.01.02"
        assert suggest.by_text_match(city, "楼道里堆满了旧家具") is not None  # from the names
    _a_while_later()
    assert suggest.by_text_match(city, "人行道上有人摆摊卖水果，又来了").code == "01.01.01"


def test_a_category_added_to_the_tree_is_named_after_the_next_look(city):
    from cityloop.org.models import Category

    suggest.forget_indexes()
    parent = org_queries.category(city, "02.01")
    first = suggest.by_text_match(city, "共享单车乱停乱放")  # builds the indexes
    assert first is None or first.code != "02.01.99"
    added = Category.objects.create(
        city=city, code="02.01.99", name="共享单车乱停乱放", name_en="Shared bikes", parent=parent, depth=3
    )
    _a_while_later()
    assert suggest.by_text_match(city, "共享单车乱停乱放").pk == added.pk


def test_a_rolled_back_database_is_not_answered_from_the_old_index(city, submit):
    suggest.forget_indexes()
    submit(category="01.01.02", description="家里的旧家具没人搬走")
    assert suggest.by_text_match(city, "旧家具没人搬走").code == "01.01.02"
    Request.objects.all().delete()  # what a rollback between two tests does to the index's rows
    submit(category="02.01.02", description="人行道上有人摆摊卖水果")
    _a_while_later()
    assert reference(city, "旧家具没人搬走") is None
    assert suggest.by_text_match(city, "旧家具没人搬走") is None
