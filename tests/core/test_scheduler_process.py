"""``cityloop scheduler`` as its own process on the SQLite queue: periodic jobs fire by themselves, and a
``soon`` asked from another process runs at once."""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from cityloop.core import schedule, tasks
from cityloop.core.models import JobRun
from tests.brain.conftest import database_url
from tests.clock import pinned_command, pinned_env

ROOT = Path(__file__).resolve().parents[2]


def _wait_for(found, scheduler: subprocess.Popen, log: Path, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = found()
        if value:
            return value
        assert scheduler.poll() is None, log.read_text()
        time.sleep(0.2)
    raise AssertionError("the scheduler did not run the job in time")


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broker", ["sqlite", "redis"])
def test_the_scheduler_process_runs_the_jobs_by_itself_and_soon_at_once(broker, tmp_path, settings):
    data = tmp_path / "data"
    # Redis is shared by every test run on the machine: this run's queue has a name of its own.
    queue = (
        {"backend": "sqlite", "path": str(data / "tasks.sqlite3"), "name": "cityloop"}
        if broker == "sqlite"
        else {"backend": "redis", "url": "redis://127.0.0.1:6379/0", "name": f"test-{uuid.uuid4().hex}"}
    )
    env = pinned_env(
        {
            **os.environ,
            "CITYLOOP_DATA_DIR": str(data),
            "CITYLOOP_DATABASE_URL": database_url(),  # SQLite or PostgreSQL, as the suite runs
            "PYTHONPATH": str(ROOT / "src"),
            "DJANGO_SETTINGS_MODULE": "cityloop.settings",
        }
    )
    env.pop("CITYLOOP_TASKS_URL", None)
    if broker == "redis":
        env["CITYLOOP_TASKS_URL"], env["CITYLOOP_TASKS_NAME"] = queue["url"], queue["name"]
    log = tmp_path / "scheduler.log"
    log_file = log.open("w")
    scheduler = subprocess.Popen(
        pinned_command("cityloop.cli.main", "scheduler", "--workers", "2"),
        env=env,
        # a file, not a pipe: nobody reads a pipe while the test waits, and a full one would stop the
        # scheduler at its next log line
        stdout=subprocess.DEVNULL,
        stderr=log_file,
    )
    try:
        # the consumer checks its periodic tasks as it starts: every minute's jobs run at once
        run = _wait_for(
            lambda: JobRun.objects.filter(name="services.escalations", finished_at__isnull=False).first(),
            scheduler,
            log,
        )
        assert run.ok, run.said
        assert run.said.endswith("overdue approval task(s) escalated")
        assert run.slot.second == 0 and run.slot.microsecond == 0
        assert not JobRun.objects.filter(name="hotline.monthly_stats").exists()  # only on the 1st

        # the daily job is not due at 10:00; asked for soon, it runs now
        settings.TASKS = queue
        settings.SCHEDULE_SOON = True
        tasks.reset()
        time.sleep(3)  # the workers have been idle a while: a soon() must still start at once
        ancient = timezone.now() - schedule.KEEP_RUNS - timedelta(days=1)
        old = JobRun.objects.create(name="ancient", slot=ancient, started_at=ancient, ok=True)
        asked = time.monotonic()
        assert schedule.soon("schedule.forget_runs") is True
        _wait_for(lambda: not JobRun.objects.filter(pk=old.pk).exists(), scheduler, log, seconds=30)
        assert time.monotonic() - asked < 2
        # a run asked for with soon() that succeeds leaves no row: the history follows the schedule
        assert not JobRun.objects.filter(name="schedule.forget_runs").exists()
    finally:
        scheduler.send_signal(signal.SIGINT)
        try:
            scheduler.wait(timeout=30)
        except subprocess.TimeoutExpired:
            scheduler.kill()
            scheduler.wait()
        log_file.close()
        if broker == "redis":
            settings.TASKS = queue
            tasks.reset()
            tasks.huey().flush()
        tasks.reset()
