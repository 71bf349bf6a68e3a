"""Every page of every role, rendered in Chinese, shows no UTC ISO timestamps (issue 10 #7).

Pages come from the URL resolver (tests/city_fixture.py), filled with the objects of a small city
with two streets and two departments; every GET that a role may see (2xx, HTML) is checked.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client

from tests.city_fixture import ROLES, build_city, fill, has_args, url_patterns
from tests.conftest import TINY_PACK, TINY_PLACES

VISIBLE = re.compile(r">([^<]+)<")


def english_msgids() -> set[str]:
    """Every English msgid of our catalogues that has a Chinese translation and reads like a phrase."""
    import gettext
    from pathlib import Path

    import cityloop

    found = set()
    for mo in Path(cityloop.__file__).parent.glob("*/locale/zh_Hans/LC_MESSAGES/django.mo"):
        with mo.open("rb") as handle:
            catalog = gettext.GNUTranslations(handle)._catalog  # noqa: SLF001 - the parsed .mo
        for msgid, msgstr in catalog.items():
            if (
                isinstance(msgid, str)
                and msgid
                and msgstr
                and msgid != msgstr
                and "%" not in msgid
                and "{" not in msgid
                and len(msgid.split()) >= 2
            ):
                found.add(msgid)
    return found


def visible_text(html: str) -> list[str]:
    """The text runs between tags, outside <script> and <style>."""
    html = re.sub(r"(?is)<(script|style)\b.*?</\1>", "", html)
    return [" ".join(run.split()) for run in VISIBLE.findall(html) if run.strip()]


# Two or more English words in a row (a sentence fragment), e.g. "Submit request".
ENGLISH_WORDS = re.compile(r"\b[A-Za-z]{2,}\s+[A-Za-z]{2,}\b")
# Text that is the same in both languages: brand and product names, codes, units.
ALLOWED_ASCII = re.compile(
    r"CityLoop API|CityLoop|Open311|OpenAPI|GeoReport v2|Prometheus|[A-Z0-9 ._:/-]+"
    r"|cityloop [a-z0-9 _-]+ [A-Z_]+"
)  # a command line, e.g. "cityloop seal verify FILE"
# Third-party pages that have one language (the Swagger UI of the API).
ONE_LANGUAGE = {"api-v1:openapi-view"}


def pack_texts() -> set[str]:
    """Texts the city's pack author wrote (data, in the pack's own language), e.g. its notes."""
    import yaml

    meta = yaml.safe_load((TINY_PACK / "pack.yaml").read_text(encoding="utf-8"))
    return {" ".join(str(value).split()) for value in meta.values() if isinstance(value, str)}


ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:\+00:00|Z)")


@pytest.fixture
def town(db):
    # One city per module: the module has one test, which sweeps everything.
    return build_city(TINY_PACK, TINY_PLACES)


def test_no_page_of_any_role_shows_a_utc_iso_timestamp_or_english_in_chinese(town):
    english, data = english_msgids(), pack_texts()
    problems, pages = [], set()
    for role in ROLES:
        client = Client(HTTP_ACCEPT_LANGUAGE="zh-hans")
        if role != "anonymous":
            client.force_login(town.users[role])
        for name, route in url_patterns():
            if name.startswith("admin:"):
                continue
            for side in ("own", "other") if has_args(route) else ("own",):
                url = fill(name, route, getattr(town, side))
                response = client.get(url)
                if response.status_code != 200 or "html" not in response.get("Content-Type", ""):
                    continue
                html = response.content.decode()
                pages.add(name)
                for stamp in ISO_UTC.findall(html):
                    problems.append(f"{name} {role}/{side}: {stamp}")
                for run in visible_text(html):
                    if run in data:
                        continue
                    if run in english:
                        problems.append(f"{name} {role}/{side}: untranslated {run!r}")
                    elif ENGLISH_WORDS.search(run) and not ALLOWED_ASCII.fullmatch(run):
                        problems.append(f"{name} {role}/{side}: English text {run!r}")
                if name in ONE_LANGUAGE:
                    continue
                english_page = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
                if visible_text(english_page) == visible_text(html):
                    problems.append(f"{name} {role}/{side}: the English page is the Chinese page")
    assert len(pages) >= 30, f"only {len(pages)} pages rendered: {sorted(pages)}"
    assert not problems, "\n".join(sorted(set(problems)))


def test_an_overdue_timer_says_overdue_once():
    """The dispatch queue read "超时 超时 7 天 3 小时": the badge and the text both said overdue."""
    from datetime import timedelta

    from django.template.loader import render_to_string
    from django.utils import timezone, translation
    from django.utils.html import strip_tags

    from cityloop.hotline.views_common import timer

    now = timezone.now()
    due = now - timedelta(days=7, hours=3, minutes=1)
    with translation.override("zh-hans"):
        html = strip_tags(render_to_string("hotline/_timer.html", {"t": timer(due, now)}))
    assert html.count("超时") == 1 and "7 天 3 小时" in html, html
    with translation.override("en"):
        html = strip_tags(render_to_string("hotline/_timer.html", {"t": timer(due, now)}))
    assert html.lower().count("overdue") == 1, html


def test_an_action_message_that_embeds_values_is_chinese_in_the_chinese_ui(city, street_chen):
    """Action messages built with f-strings stayed English ("still waiting for: 市水务局") in the 中文 UI."""
    from django.core.exceptions import ValidationError
    from django.utils import timezone, translation

    from cityloop.hotline import actions
    from cityloop.org.models import Department

    water = Department.objects.get(city=city, code="WATER")
    whistle = actions.blow_whistle(
        street=street_chen.street,
        departments=[water],
        title="占道",
        need="协调",
        finish_due=timezone.now() + timedelta(days=3),
        actor=street_chen,
    )
    for language, expected in (
        ("zh-hans", "仍在等待：市水务局"),
        ("en", "still waiting for: City Water Authority"),
    ):
        with translation.override(language), pytest.raises(ValidationError) as raised:
            actions.close_whistle(whistle, actor=street_chen)
        assert raised.value.message_dict["whistle"] == [expected]
