"""The admins' schedule page: each job's schedule, last run, next run and recent failures, in both
languages; nobody else may open it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from cityloop.core import schedule
from cityloop.core.models import JobRun

SLOT = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)


@pytest.fixture
def runs(db):
    JobRun.objects.create(
        name="services.escalations",
        slot=SLOT,
        started_at=SLOT,
        finished_at=SLOT,
        ok=True,
        said="2 overdue approval task(s) escalated",
    )
    for minutes, text in ((-2, "OperationalError: database is locked"), (-1, "TimeoutError: SMTP")):
        at = SLOT + timedelta(minutes=minutes)
        JobRun.objects.create(
            name="notify.deliver", slot=at, started_at=at, finished_at=at, ok=False, said=text
        )


def _page(client: Client, language: str) -> str:
    response = client.get("/schedule/", HTTP_ACCEPT_LANGUAGE=language)
    assert response.status_code == 200
    return response.content.decode()


def test_an_admin_sees_every_job_with_its_last_and_next_run_and_failures_in_chinese(runs, admin_zhang):
    client = Client()
    client.force_login(admin_zhang)
    html = _page(client, "zh-hans")
    assert "<h1>定时任务</h1>" in html
    for name in schedule.JOBS:
        assert f"<code>{name}</code>" in html
    assert "2 overdue approval task(s) escalated" in html
    assert "cron <code>0 1 1 * *</code>（分 时 日 月 星期）" in html
    assert "每 5 分钟" in html and "每分钟" in html
    assert "近期失败" in html and "TimeoutError: SMTP" in html and "database is locked" in html
    assert "2026-12-01 01:00" in html  # the monthly statistics' next run, in the city's time
    assert "从未运行" in html
    assert 'href="/schedule/"' in html  # in the admin's menu


def test_the_schedule_page_in_english(runs, admin_zhang):
    client = Client()
    client.force_login(admin_zhang)
    html = _page(client, "en")
    assert "<h1>Schedule</h1>" in html
    assert "every 5 minutes" in html and "every minute" in html
    assert "Recent failures" in html and "Last run" in html and "Next run" in html
    assert "succeeded" in html and "failed" in html


def test_only_admins_open_the_schedule(dispatcher_li):
    client = Client()
    assert client.get("/schedule/").status_code == 302  # to the login page
    client.force_login(dispatcher_li)
    assert client.get("/schedule/").status_code == 403
    assert 'href="/schedule/"' not in client.get("/").content.decode()
