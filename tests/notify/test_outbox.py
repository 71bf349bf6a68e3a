"""The outbox: written with the change, sent after it, retried, dead-lettered, never lost."""

from __future__ import annotations

import time
from datetime import time as clock_time
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone, translation

from cityloop.core.models import AuditRecord
from cityloop.notify import actions, deliver
from cityloop.notify.channels import base
from cityloop.notify.models import Message, Preference, Status
from cityloop.notify.recipients import To, people

pytestmark = pytest.mark.django_db


WANG = (To("email", "wang@example.cn"),)


def _queue(event="request.replied", to=WANG, **kw):
    params = {
        "no": "R20261118-00001",
        "reply": "已修复。",
        "reason": "仍未解决",
        "unit": "金融街街道",
        "what": "finish",
        "due": "2026-11-20 18:00",
        "street": "金融街街道",
        "deadline": "2026-11-18 10:30",
    }
    with transaction.atomic():
        return actions.queue(event, list(to), params, about=("request", "R20261118-00001"), **kw)


def _wait_until(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


@pytest.mark.django_db(transaction=True)
def test_queue_refuses_to_run_outside_the_actions_transaction():
    with pytest.raises(RuntimeError, match="inside the action's transaction"):
        actions.queue("request.replied", [To("email", "a@example.cn")], {"no": "R1", "reply": "x"})


def test_a_rolled_back_change_leaves_no_message():
    class Boom(Exception):
        pass

    with pytest.raises(Boom), transaction.atomic():
        actions.queue("request.replied", [To("email", "a@example.cn")], {"no": "R1", "reply": "x"})
        raise Boom
    assert Message.objects.count() == 0


def test_a_message_reaches_a_real_smtp_server_with_its_idempotency_id_in_the_recipients_language(smtp):
    (zh,) = _queue()
    (en,) = _queue(to=[To("email", "li@example.com", language="en")])
    assert deliver.deliver_due()["sent"] == 2
    assert _wait_until(lambda: len(smtp.received) == 2)
    by_to = {m["To"]: m for m in smtp.received}
    assert by_to["wang@example.cn"]["Message-ID"] == f"<{zh.uid}@cityloop>"
    assert by_to["wang@example.cn"]["X-CityLoop-Message-Id"] == str(zh.uid)
    assert "已答复" in by_to["wang@example.cn"].get_payload(decode=True).decode()
    assert "has been answered" in by_to["li@example.com"].get_payload(decode=True).decode()
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SENT}
    assert deliver.deliver_due() == {"sent": 0, "retry": 0, "dead": 0, "skipped": 0}


def test_while_the_smtp_server_is_down_messages_wait_and_all_arrive_when_it_is_back(smtp, quick_retries):
    port = smtp.controller.port
    smtp.controller.stop()
    made = [_queue(to=[To("email", f"c{i}@example.cn")])[0] for i in range(5)]
    counts = deliver.deliver_due(budget_s=0.5)
    assert counts["sent"] == 0 and counts["dead"] == 0
    waiting = Message.objects.get(pk=made[0].pk)
    assert waiting.status == Status.QUEUED and "unreachable" in waiting.last_error
    # an outage spends at most one attempt, on the message that found the server down
    assert sum(Message.objects.values_list("attempts", flat=True)) <= 2
    from cityloop.notify import catcher

    controller, keep = catcher.start(port=port)
    try:
        Message.objects.update(due_at=timezone.now())
        assert deliver.deliver_due()["sent"] == 5
        assert _wait_until(lambda: len(keep.received) == 5)
        assert sorted(m["To"] for m in keep.received) == [f"c{i}@example.cn" for i in range(5)]
    finally:
        controller.stop()
        smtp.controller.start = lambda: None  # the fixture stops the old one; it is already stopped
        smtp.controller.stop = lambda: None


class _Flaky:
    """A channel that raises ``error`` for every message (and counts the tries)."""

    name = "email"

    def __init__(self, error, *, one_endpoint):
        self.error, self.one_endpoint, self.tried = error, one_endpoint, 0

    def send(self, message):
        self.tried += 1
        raise self.error

    def close(self):
        pass


@pytest.mark.parametrize(
    ("error", "one_endpoint", "tried"),
    [
        # the channel says nothing answered, and every message goes there: one try, the rest waits
        (base.Retry("connect failed", unreachable=True), True, 1),
        # each message has its own endpoint (robots, webhooks): one down endpoint says nothing of the rest
        (base.Retry("connect failed", unreachable=True), False, 3),
        # the words of the error don't matter, only what the channel said: a 4xx that says "refused"
        (base.Retry("451 relay refused, timed out, unreachable"), True, 3),
    ],
)
def test_only_a_channel_that_says_nothing_answered_puts_its_batch_back(
    monkeypatch, quick_retries, error, one_endpoint, tried
):
    flaky = _Flaky(error, one_endpoint=one_endpoint)
    monkeypatch.setattr(deliver, "channel", lambda name: flaky)
    made = [_queue(to=[To("email", f"c{i}@example.cn")])[0] for i in range(3)]
    counts = deliver.deliver_batch()
    assert flaky.tried == tried and counts["retry"] == 3 and counts["dead"] == 0
    attempts = sorted(Message.objects.filter(pk__in=[m.pk for m in made]).values_list("attempts", flat=True))
    assert attempts == ([0, 0, 1] if tried == 1 else [1, 1, 1])
    waiting = Message.objects.filter(last_error__startswith=deliver.UNREACHABLE).count()
    assert waiting == (3 if tried == 1 else 0)


def test_a_refused_recipient_is_a_dead_letter_at_once_and_an_admin_can_resend_it(smtp, admin_zhang):
    async def refuse(server, session, envelope, address, rcpt_options):
        if address.startswith("nobody"):
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    smtp.handle_RCPT = refuse
    (bad,) = _queue(to=[To("email", "nobody@example.cn")])
    (good,) = _queue(to=[To("email", "wang@example.cn")])
    counts = deliver.deliver_due()
    assert (counts["sent"], counts["dead"]) == (1, 1)
    bad.refresh_from_db()
    assert bad.status == Status.DEAD and "refused" in bad.last_error
    del smtp.handle_RCPT
    assert actions.resend([bad.pk], actor=admin_zhang) == 1
    bad.refresh_from_db()
    assert (bad.status, bad.attempts) == (Status.QUEUED, 0)
    assert AuditRecord.objects.filter(action="notify.resend", object_id=str(bad.pk)).exists()
    assert deliver.deliver_due()["sent"] == 1
    assert _wait_until(lambda: len(smtp.received) == 2)
    assert [m["Message-ID"] for m in smtp.received].count(f"<{bad.uid}@cityloop>") == 1


def test_only_an_admin_may_resend(dispatcher_li):
    from django.core.exceptions import PermissionDenied

    (m,) = _queue()
    with pytest.raises(PermissionDenied):
        actions.resend([m.pk], actor=dispatcher_li)


def test_a_failing_message_backs_off_then_becomes_a_dead_letter(smtp, quick_retries):
    async def busy(server, session, envelope):
        return "451 try again later"

    smtp.handle_DATA = busy
    (m,) = _queue()
    for _ in range(3):
        Message.objects.filter(pk=m.pk).update(due_at=timezone.now())
        deliver.deliver_due()
    m.refresh_from_db()
    assert m.status == Status.DEAD and m.attempts == 3 and "451" in m.last_error


def test_the_backoff_grows_and_is_capped(settings):
    settings.NOTIFY = {**settings.NOTIFY, "backoff_s": 5, "backoff_max_s": 60}
    delays = [deliver.backoff(n).total_seconds() for n in (1, 2, 3, 10)]
    assert 4 <= delays[0] <= 6 and 8 <= delays[1] <= 12 and 16 <= delays[2] <= 24 and delays[3] <= 72


def test_a_worker_that_dies_mid_batch_leaves_its_messages_to_the_next_after_the_lease(smtp):
    made = [_queue(to=[To("email", f"c{i}@example.cn")])[0] for i in range(3)]
    claimed = deliver._claim(10, timezone.now(), lease_s=30)  # …and the worker is killed here
    assert len(claimed) == 3
    assert deliver.deliver_due()["sent"] == 0  # leased: nobody else sends them yet
    Message.objects.update(lease_until=timezone.now() - timedelta(seconds=1))
    assert deliver.deliver_due()["sent"] == 3
    assert {m.pk for m in made} == set(
        Message.objects.filter(status=Status.SENT).values_list("pk", flat=True)
    )


def test_a_channel_that_is_off_skips_the_message_and_says_why(settings):
    settings.NOTIFY = {**settings.NOTIFY, "email": False}
    (m,) = _queue()
    assert deliver.deliver_due()["skipped"] == 1
    m.refresh_from_db()
    assert m.status == Status.SKIPPED and "email is off" in m.last_error


def test_a_keyed_reminder_is_queued_once_however_often_it_is_asked_for():
    to = [To("email", "wang@example.cn")]
    assert len(_queue("order.overdue", to, key="overdue:7")) == 1
    assert _queue("order.overdue", to, key="overdue:7") == []
    assert Message.objects.filter(key="overdue:7").count() == 1


def test_staff_get_the_inbox_and_email_by_default_and_text_only_when_they_ask(street_chen):
    street_chen.email, street_chen.phone = "chen@example.cn", "13900000000"
    street_chen.save()
    assert {t.channel for t in people([street_chen])} == {"inbox", "email"}
    actions.save_preferences(
        street_chen,
        language="en",
        email=False,
        sms=True,
        quiet_from=None,
        quiet_until=None,
        digest=False,
        actor=street_chen,
    )
    got = people([street_chen])
    assert {t.channel for t in got} == {"inbox", "sms"} and {t.language for t in got} == {"en"}


def test_preferences_name_the_field_and_rule_and_only_the_person_sets_theirs(street_chen, dispatcher_li):
    from django.core.exceptions import PermissionDenied, ValidationError

    with pytest.raises(ValidationError) as caught:
        actions.save_preferences(
            street_chen,
            language="fr",
            email=True,
            sms=True,
            quiet_from=clock_time(22),
            quiet_until=None,
            digest=False,
            actor=street_chen,
        )
    errors = caught.value.message_dict
    assert {"language", "email", "sms", "quiet_until"} <= set(errors)
    with pytest.raises(PermissionDenied):
        actions.save_preferences(
            street_chen,
            language="",
            email=False,
            sms=False,
            quiet_from=None,
            quiet_until=None,
            digest=False,
            actor=dispatcher_li,
        )
    assert not Preference.objects.exists()


def test_quiet_hours_hold_what_is_not_urgent_until_they_end_in_city_time(street_chen, time_machine):
    # 23:30 in Beijing: inside 22:00-07:00
    time_machine.move_to("2026-11-18T23:30:00+08:00", tick=False)
    Preference.objects.create(user=street_chen, quiet_from=clock_time(22), quiet_until=clock_time(7))
    to = [To("email", "chen@example.cn", street_chen.pk)]
    (normal,) = _queue("order.overdue", to, key="a")
    (urgent,) = _queue("whistle.summons", to, key="b")
    local = timezone.localtime(normal.due_at)
    assert (local.day, local.hour, local.minute) == (19, 7, 0)
    assert urgent.due_at == urgent.created_at


def test_a_digest_gathers_a_days_messages_into_one_per_person_and_channel(street_chen, time_machine):
    time_machine.move_to("2026-11-18T10:00:00+08:00", tick=False)
    Preference.objects.create(user=street_chen, digest=True)
    to = [To("email", "chen@example.cn", street_chen.pk), To("inbox", str(street_chen.pk), street_chen.pk)]
    for n in range(3):
        _queue("order.overdue", to, key=f"o{n}")
    assert Message.objects.filter(channel="email", status=Status.DIGEST).count() == 3
    assert Message.objects.filter(channel="inbox", status=Status.QUEUED).count() == 3  # the inbox is not held
    assert deliver.digest_job() == "0 digests"  # before the digest hour of the next day
    time_machine.move_to("2026-11-19T08:01:00+08:00", tick=False)
    assert deliver.digest_job() == "1 digests"
    assert deliver.digest_job() == "0 digests"
    digest = Message.objects.get(event="digest")
    assert digest.channel == "email" and digest.params["count"] == 3 and "3 条通知" in digest.subject
    assert Message.objects.filter(status=Status.DIGESTED).count() == 3


def test_mark_read_touches_only_the_persons_own_inbox(street_chen, dept_water_zhao):
    _queue(
        to=[
            To("inbox", str(street_chen.pk), street_chen.pk),
            To("inbox", str(dept_water_zhao.pk), dept_water_zhao.pk),
        ]
    )
    from cityloop.notify import queries

    assert queries.unread(street_chen) == 1
    assert actions.mark_read(street_chen) == 1
    assert (queries.unread(street_chen), queries.unread(dept_water_zhao)) == (0, 1)
    assert actions.mark_read(street_chen, [Message.objects.get(user=dept_water_zhao).pk]) == 0


def test_a_sent_access_code_is_redacted_from_the_outbox_and_reached_the_citizen(smtp):
    with transaction.atomic():
        (m,) = actions.queue(
            "request.received",
            [To("email", "wang@example.cn")],
            {"no": "R20261118-00001", "code": "ABCDE-FGHJK"},
        )
    assert "ABCDE-FGHJK" in m.body
    assert deliver.deliver_due()["sent"] == 1
    assert _wait_until(lambda: len(smtp.received) == 1)
    assert "ABCDE-FGHJK" in smtp.received[0].get_payload(decode=True).decode()
    m.refresh_from_db()
    assert "ABCDE-FGHJK" not in m.body and "*****" in m.body and m.params["code"] == "*****"
    assert m.params["no"] == "R20261118-00001"


def test_a_system_subscribes_to_event_types_and_hears_only_those(admin_zhang, citizen_wang):
    from django.core.exceptions import PermissionDenied, ValidationError

    with pytest.raises(ValidationError) as caught:
        actions.subscribe("ftp://x", ["order.nonsense"], actor=admin_zhang)
    assert {"url", "events"} <= set(caught.value.message_dict)
    with pytest.raises(PermissionDenied):
        actions.subscribe("https://district.example.cn/hooks", ["order.new"], actor=citizen_wang)
    sub = actions.subscribe("https://district.example.cn/hooks", ["request.replied"], actor=admin_zhang)
    assert sub.secret.startswith("whsec_")
    assert AuditRecord.objects.filter(action="notify.subscribe", object_id=str(sub.pk)).exists()
    _queue("request.replied")
    _queue("request.reopened")
    assert list(Message.objects.filter(channel="webhook").values_list("event", "address")) == [
        ("request.replied", str(sub.pk))
    ]
    assert actions.unsubscribe(sub.pk, actor=admin_zhang) and not actions.unsubscribe(
        sub.pk, actor=admin_zhang
    )
    _queue("request.replied")
    assert Message.objects.filter(channel="webhook").count() == 1


def test_the_command_line_subscribes_lists_and_stops_without_showing_secrets_twice(capsys):
    from django.core.management import CommandError, call_command

    call_command("notify", "subscribe", "https://stats.example.cn/in", "--events", "order.new,order.overdue")
    out = capsys.readouterr().out
    assert "signing secret (shown once" in out and "whsec_" in out
    call_command("notify", "subscriptions")
    listed = capsys.readouterr().out
    assert "https://stats.example.cn/in" in listed and "whsec_" not in listed
    with pytest.raises(CommandError, match="events: unknown event type"):
        call_command("notify", "subscribe", "https://x.example.cn/", "--events", "nope")
    sub_id = listed.split("\t")[0]
    call_command("notify", "unsubscribe", sub_id)
    assert "stopped" in capsys.readouterr().out


def test_names_are_said_in_each_recipients_language(city):
    from cityloop.notify import texts
    from cityloop.org.models import Department

    water = Department.objects.get(city=city, code="WATER")
    params = {"no": "R1", "unit": texts.named(water), "what": "finish", "due": "2026-11-20 18:00"}
    with translation.override("en"):  # whoever queues it, in whatever language
        with transaction.atomic():
            zh, en = actions.queue(
                "order.overdue",
                [To("email", "a@example.cn"), To("email", "b@example.com", language="en")],
                params,
            )
    assert "市水务局" in zh.body and "办结" in zh.body
    assert water.name_en in en.body and "finish" in en.body
    assert deliver._outgoing(en).params["unit"] == water.name_en
