"""An overdue order escalates on its own: the scheduler process runs the reminders job on its schedule
and the outbox's delivery, and the leaders' mail arrives at a real SMTP server; no page is opened."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest

from cityloop.core.actions import add_user
from cityloop.core.actors import SYSTEM
from cityloop.hotline import actions
from cityloop.notify import catcher
from cityloop.notify.models import Message, Status
from cityloop.org.models import Department
from tests.brain.conftest import database_url
from tests.clock import pinned_command, pinned_env
from tests.hotline.conftest import submit  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_an_overdue_order_escalates_by_itself_on_schedule(
    submit,  # noqa: F811 - the imported fixture
    dispatcher_li,
    dept_water_zhao,
    city,
    tmp_path,
    time_machine,
):
    water = Department.objects.get(city=city, code="WATER")
    leader = add_user(
        username="leader_water",
        password="x" * 12,
        role="leader",
        email="leader@water.example.cn",
        department=water,
        actor=SYSTEM,
        check_password=False,
    )
    [order] = actions.accept_suggestion(submit(), actor=dispatcher_li)
    # nobody signs it; five hours after its response limit the scheduler is the only thing running
    time_machine.move_to(order.response_due + timedelta(hours=5), tick=True)
    controller, mailbox = catcher.start()
    env = pinned_env(
        {
            **os.environ,
            "CITYLOOP_DATA_DIR": str(tmp_path / "data"),
            "CITYLOOP_DATABASE_URL": database_url(),
            "CITYLOOP_SMTP_HOST": "127.0.0.1",
            "CITYLOOP_SMTP_PORT": str(controller.port),
            "CITYLOOP_TESTING": "0",
            "PYTHONPATH": str(ROOT / "src"),
        }
    )
    env.pop("CITYLOOP_TASKS_URL", None)
    scheduler = subprocess.Popen(
        pinned_command("cityloop.cli.main", "scheduler"),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if any(m["To"] == leader.email for m in mailbox.received):
                break
            assert scheduler.poll() is None, scheduler.communicate()[1]
            time.sleep(0.2)
        escalated = [m for m in mailbox.received if m["To"] == leader.email]
        assert [m["X-CityLoop-Event"] for m in escalated] == ["order.escalated"]
        assert order.request.tracking_no in escalated[0]["Subject"] or order.request.tracking_no in str(
            escalated[0].get_payload(decode=True), "utf-8"
        )
        inbox = Message.objects.get(event="order.escalated", channel="inbox", user=leader)
        assert inbox.status == Status.SENT
        assert Message.objects.filter(event="order.overdue", channel="inbox", user=dept_water_zhao).exists()
    finally:
        scheduler.send_signal(signal.SIGINT)
        try:
            scheduler.wait(timeout=30)
        except subprocess.TimeoutExpired:
            scheduler.kill()
            scheduler.wait()
        controller.stop()
