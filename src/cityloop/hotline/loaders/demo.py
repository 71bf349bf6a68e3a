"""Demo requests for the demo city: ~60 in every state, made through the actions by the demo personas.

Registered in ``cityloop.org.demo.DEMO_EXTENSIONS``; running it twice adds nothing the second time.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from cityloop.core import actors
from cityloop.core import queries as core_queries
from cityloop.hotline import actions
from cityloop.hotline.actions import Submission
from cityloop.hotline.intake import access
from cityloop.hotline.models import Channel, IdempotencyKey, Order, Request
from cityloop.org import queries as org_queries

COUNT = 60
# (text, category code) per language; the codes exist in the built-in packs.
SAMPLES = {
    "zh": [
        ("小区楼里停水一整天了，也没有通知", "01.02.16"),
        ("路边垃圾桶满了好几天没人清运，味道很大", "01.02.14"),
        ("人行道上有人占道经营摆摊，行人只能走机动车道", "01.02.02"),
        ("小区物业不作为，楼道灯坏了一个月没人修", "01.02.12"),
        ("家里暖气不热，室温只有十四度", "01.02.08"),
        ("楼顶有人私搭乱建，担心安全", "01.03.02"),
        ("自来水管爆裂，路面都是水", "01.02.16"),
        ("小区门口垃圾乱堆乱放，影响通行", "01.02.14"),
    ],
    "en": [
        ("No water in the whole building since this morning", "04.01.05"),
        ("Water leaking from the street near the hydrant", "04.01.01"),
        ("Construction noise after 10 pm every night", "04.03.03"),
        ("The sidewalk in front of the deli is filthy", "05.01.02"),
        ("Trash was not collected this week", "05.04.01"),
        ("The elevator in our building has been broken for days", "06.03.01"),
        ("Hydrant running full, water all over the street", "04.01.04"),
        ("Dirty sidewalk with overflowing bags", "05.01.02"),
    ],
}
NAMES = {
    "zh": ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨磊"],
    "en": ["Ana Diaz", "John Lee", "Mary Smith", "Wei Chen", "Omar Khan", "Rosa Lopez"],
}
# How far along each sample goes, cycled: the demo shows every page with something on it.
STAGES = [
    "new",
    "new",
    "dispatched",
    "signed",
    "extension",
    "returned",
    "replied",
    "closed",
    "signed",
    "replied",
]


def _points(city, street):
    import json

    from shapely.geometry import shape

    others = list(
        org_queries.places(city, level="street")
        .exclude(pk=street.pk)
        .exclude(geometry="")
        .order_by("code")[:12]
    )
    places = []
    for unit in [street, street, *others]:
        if unit.geometry:
            point = shape(json.loads(unit.geometry)).representative_point()
            places.append((unit, point.x, point.y))
    return places


def _persona(username):
    return core_queries.user_named(username)


def load(*, city, stdout=None) -> None:
    scope = f"demo:{city.code}"
    if IdempotencyKey.objects.filter(scope=scope).exists():
        return
    pack = org_queries.pack_of(city)
    language = "zh" if pack is not None and pack.default_language.startswith("zh") else "en"
    dispatcher, street_user, dept_user = (
        _persona("dispatcher_li"),
        _persona("street_chen"),
        _persona("dept_water_zhao"),
    )
    citizen = _persona("citizen_wang")
    if street_user is None or street_user.street is None or dispatcher is None:
        return
    street = street_user.street
    department = dept_user.department if dept_user else org_queries.departments(city).first()
    places = _points(city, street)
    samples = [(t, c) for t, c in SAMPLES[language] if org_queries.categories(city, code=c).exists()]
    if not places or not samples:
        return
    now = timezone.now()
    made = 0
    codes: dict[str, tuple[str, str]] = {}  # stage -> (tracking number, access code), for the demo's printout
    for i in range(COUNT):
        text, code = samples[i % len(samples)]
        unit, lon, lat = places[i % len(places)]
        sub = Submission(
            description=text,
            caller_name=NAMES[language][i % 6],
            caller_phone=f"1390000{i:04d}" if language == "zh" else f"+1 718 555 {i:04d}",
            lon=lon + (i % 5) * 0.0003,
            lat=lat + (i % 3) * 0.0003,
            category_code=code if i % 4 else "",
            urgency="urgent" if i % 9 == 0 else "normal",
            received_at=now - timedelta(hours=2 + (COUNT - i) * 3),
        )
        request, _ = actions.submit_request(
            sub,
            city=city,
            channel=[Channel.PHONE, Channel.WEB, Channel.API][i % 3],
            citizen=citizen if i % 10 == 1 else None,
            actor=dispatcher if i % 3 == 0 else actors.DEMO,
            idempotency=(scope, str(i)),
        )
        _advance(
            request,
            STAGES[i % len(STAGES)],
            i,
            unit=unit,
            street=street,
            department=department,
            dispatcher=dispatcher,
            street_user=street_user,
            dept_user=dept_user,
        )
        codes.setdefault(STAGES[i % len(STAGES)], (request.tracking_no, access.display(request.access_code)))
        made += 1
    whistled = _demo_whistle(city, street_user, dept_user, language)
    if stdout is not None:
        stdout.write(
            f"hotline: {made} demo requests for {city.label}"
            + (", one whistle with a late and a pending report-in" if whistled else "")
            + "\n"
        )
        if "replied" in codes:
            number, code = codes["replied"]
            # A fresh rating code for the printout (the one issued at the reply was only texted).
            rating = actions.issue_rating_link(Request.objects.get(tracking_no=number), actor=actors.DEMO)
            stdout.write(
                f"hotline: track {number} with access code {code} at /hotline/track/, "
                f"rate it at /hotline/rate/{rating}/\n"
            )


def _advance(request, stage, i, *, unit, street, department, dispatcher, street_user, dept_user):
    if stage == "new":
        return
    if request.category_id is None and request.suggested_category_id is None:
        actions.classify_request(
            request, org_queries.categories(request.city).get(code=_code(request)), actor=dispatcher
        )
    to_street = unit.pk == street.pk and i % 2 == 0
    target = ("street", street, "street") if to_street else ("department", department, "direct")
    [order] = actions.dispatch_request(request, units=[target], actor=dispatcher)
    handler = street_user if to_street else dept_user
    if stage == "dispatched":
        return
    if stage == "returned":
        actions.return_order(
            order, reason=_say(request, "不属于本单位职责", "Not our responsibility"), actor=handler
        )
        return
    actions.sign_order(order, actor=handler)
    actions.record_contact(
        order,
        channel="phone",
        summary=_say(request, "已电话联系市民，约定上门查看", "Called the citizen, agreed to visit"),
        actor=handler,
    )
    if stage == "signed":
        actions.add_note(
            order, text=_say(request, "已派人到现场处理", "Crew sent to the site"), actor=handler
        )
        return
    if stage == "extension":
        actions.request_extension(
            order, days=3, reason=_say(request, "需要协调物业和供水公司", "Needs a contractor"), actor=handler
        )
        return
    actions.reply_order(
        Order.objects.get(pk=order.pk),
        outcome="resolved",
        text=_say(request, "问题已处理完毕，感谢您的反映", "Fixed. Thank you for reporting it."),
        actor=handler,
    )
    if stage == "closed":
        request.refresh_from_db()
        actions.record_follow_up(
            request,
            resolved=True,
            satisfaction=["satisfied", "basic"][i % 2],
            channel="phone",
            actor=dispatcher,
        )


def _code(request):
    return org_queries.categories(request.city, depth=3).order_by("code").values_list("code", flat=True)[0]


def _say(request, zh: str, en: str) -> str:
    return zh if any("\u4e00" <= ch <= "\u9fff" for ch in request.description) else en


HISTORY_REQUESTS = 4000


def load_history(*, city, stdout=None) -> None:
    """Six months of synthetic history, so the leaders' dashboard and rankings have something to rank."""
    from cityloop.hotline.loaders import synthetic
    from cityloop.hotline.performance import actions as performance_actions

    if Request.objects.filter(city=city, channel=Channel.REPLAY).exists():
        return
    synthetic.generate(city, n=HISTORY_REQUESTS, months=6, seed=11)
    months = performance_actions.recount_all(actor=actors.DEMO)
    if stdout is not None:
        stdout.write(
            f"hotline: {HISTORY_REQUESTS} requests of synthetic history, rates for {len(months)} months"
        )


def _demo_whistle(city, street_user, dept_user, language: str) -> bool:
    """吹哨报到 in the demo: the street summons two departments to one of its cases; one reported in late,
    the other has not yet (its deadline passed, so the street's page shows it missed)."""
    from cityloop.hotline.models import Whistle

    if Whistle.objects.filter(street=street_user.street).exists():
        return False
    case = (
        Request.objects.filter(city=city, street=street_user.street)
        .exclude(status__in=["closed", "merged"])
        .order_by("created_at")
        .first()
    )
    if case is None or dept_user is None or dept_user.department is None:
        return False
    other = org_queries.departments(city, level="city").exclude(pk=dept_user.department_id).order_by("code")
    departments = [dept_user.department, *other[:1]]
    title, need = (
        ("路面塌陷，地下管线待查", "水务查漏，城管协调占道施工")
        if language == "zh"
        else (
            "Road collapse, utilities to check",
            "Water to find the leak, city management to close the lane",
        )
    )
    whistle = actions.blow_whistle(
        street=street_user.street,
        departments=departments,
        title=title,
        need=need,
        urgent=True,
        finish_due=timezone.now() + timedelta(days=3),
        request=case,
        actor=street_user,
    )
    # The report-in deadline (30 minutes for an urgent whistle) has passed: one department reported in late.
    Whistle.objects.filter(pk=whistle.pk).update(report_due=timezone.now() - timedelta(minutes=5))
    whistle.refresh_from_db()
    late = whistle.summonses.get(department=dept_user.department)
    actions.report_in(late, responsible_person=dept_user.full_name or dept_user.username, actor=dept_user)
    return True
