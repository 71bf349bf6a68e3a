"""The text-match suggestion (intake without a classifier model) on the demo city: ms per call.

    CITYLOOP_DATA_DIR=$(mktemp -d) cityloop demo --load-only
    CITYLOOP_DATA_DIR=<same> python bench/bench_suggest.py [--calls 300]

Calls ``suggest.by_text_match`` as intake does for a request filed without a category and without a
model: ``--calls`` times each for texts that match an earlier request (the answer comes from the
latest 300 classified requests) and texts that match none (the answer comes from the category names,
or is None); the first call of each kind (the indexes built) is timed apart. Nothing is written.
The last line is ``RESULT suggest_match_ms=<ms> suggest_nomatch_ms=<ms> first_ms=<ms>`` (means).
"""

from __future__ import annotations

import argparse
import os
import time

MATCHING = [
    "小区楼里停水一整天了，也没有通知",
    "路灯不亮了，晚上走路很黑",
    "楼下饭店油烟很大，窗户都不敢开",
    "人行道上有人摆摊卖水果",
    "施工噪音太大，半夜还在干活",
]
NOT_MATCHING = [
    "请问护照怎么办理",
    "想咨询一下公积金提取",
    "my cat is lost somewhere",
    "12345 99 abc",
    "谢谢你们昨天的帮助",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cityloop.settings")
    import django

    django.setup()
    from cityloop.hotline.intake import suggest
    from cityloop.hotline.models import Request
    from cityloop.org import queries as org_queries

    city = org_queries.default_city()
    assert city is not None, "no city: load the demo first (cityloop demo --load-only)"
    classified = Request.objects.filter(city=city, category__isnull=False).count()
    print(f"{city.name}: {classified} classified requests")
    print(f"machine: {os.cpu_count()} cores, load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}")

    def timed(texts: list[str], calls: int) -> tuple[float, list]:
        answers = []
        start = time.perf_counter()
        for i in range(calls):
            answers.append(suggest.by_text_match(city, texts[i % len(texts)]))
        return (time.perf_counter() - start) * 1000 / calls, answers

    first, _ = timed(MATCHING[:1], 1)
    matching, found = timed(MATCHING, args.calls)
    not_matching, names = timed(NOT_MATCHING, args.calls)
    shown = found[: len(MATCHING)] + names[: len(NOT_MATCHING)]
    for text, answer in zip(MATCHING + NOT_MATCHING, shown, strict=True):
        print(f"  {text} → {answer.code + ' ' + answer.name if answer else None}")
    print(
        f"matching: {matching:.3f} ms per call; not matching: {not_matching:.3f} ms; "
        f"first call {first:.1f} ms"
    )
    print(
        f"RESULT suggest_match_ms={matching:.3f} suggest_nomatch_ms={not_matching:.3f} first_ms={first:.1f}"
    )


if __name__ == "__main__":
    main()
