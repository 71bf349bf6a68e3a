"""The scheduler (decision 0012): slots claimed once, failures recorded, cron in the city's time, soon()
coalesced, and Huey on SQLite and on Redis."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.management import call_command
from django.db import IntegrityError

from cityloop.core import config, schedule, tasks
from cityloop.core.models import JobRun

SLOT = datetime(2026, 11, 18, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, the tests' pinned day


@pytest.fixture
def jobs(monkeypatch):
    """An empty registry of jobs for the test (the apps' own jobs come back afterwards)."""
    monkeypatch.setattr(schedule, "JOBS", {})
    return schedule.JOBS


@pytest.fixture
def queue(tmp_path, settings):
    """This test's own SQLite queue."""
    settings.TASKS = {"backend": "sqlite", "path": str(tmp_path / "tasks.sqlite3"), "name": "cityloop"}
    tasks.reset()
    yield tasks.huey()
    tasks.reset()


@pytest.mark.django_db
def test_two_claims_of_the_same_slot_run_the_job_once(jobs):
    ran = []
    job = schedule.register("count", lambda: ran.append(1) or "counted")
    assert schedule.run_job(job, SLOT) == ("counted", True)
    assert schedule.run_job(job, SLOT) is None  # the other scheduler has it
    assert schedule.run_job(job, SLOT + timedelta(minutes=1)) == ("counted", True)
    assert len(ran) == 2
    run = JobRun.objects.filter(name="count").earliest("slot")
    assert (run.slot, run.ok, run.said) == (SLOT, True, "counted")
    assert run.finished_at is not None


@pytest.mark.django_db
def test_the_unique_slot_is_the_databases_not_the_codes():
    JobRun.objects.create(name="x", slot=SLOT, started_at=SLOT)
    with pytest.raises(IntegrityError):
        JobRun.objects.create(name="x", slot=SLOT, started_at=SLOT)


@pytest.mark.django_db
def test_a_failing_job_is_recorded_and_the_others_still_run(jobs, caplog):
    def broken() -> str:
        raise RuntimeError("the gateway is down\nsecond line")

    schedule.register("broken", broken)
    schedule.register("fine", lambda: "fine")
    done = {name: (said, ok) for name, said, ok in schedule.tick(SLOT)}
    assert done == {"broken": ("RuntimeError: the gateway is down", False), "fine": ("fine", True)}
    failed = JobRun.objects.get(name="broken")
    assert (failed.ok, failed.said) == (False, "RuntimeError: the gateway is down")
    assert "scheduled job broken failed" in caplog.text
    assert "Traceback" in caplog.text


@pytest.mark.django_db
def test_tick_skips_a_job_the_scheduler_already_ran_this_minute(jobs, capsys):
    job = schedule.register("once", lambda: "did it")
    schedule.run_job(job, job.slot(datetime.now(UTC)))
    call_command("tick")
    assert "once: skipped (already run this minute)" in capsys.readouterr().out


def test_every_runs_on_its_period_and_claims_the_periods_start(jobs):
    job = schedule.register("five", lambda: "", every=timedelta(minutes=5))
    assert job.due(SLOT) and not job.due(SLOT + timedelta(minutes=1))
    assert job.slot(SLOT + timedelta(minutes=3, seconds=20)) == SLOT
    assert job.next_after(SLOT) == SLOT + timedelta(minutes=5)
    with pytest.raises(ValueError, match="whole number of minutes"):
        schedule.register("odd", lambda: "", every=timedelta(seconds=90))


def test_a_monthly_cron_runs_at_one_in_the_morning_city_time_on_the_first(jobs):
    job = schedule.register("monthly", lambda: "", cron="0 1 1 * *")
    first = datetime(2026, 12, 1, 1, 0).astimezone(UTC)  # the settings' zone: Asia/Shanghai
    assert first == datetime(2026, 11, 30, 17, 0, tzinfo=UTC)
    assert job.due(first)
    assert not job.due(first + timedelta(minutes=1))
    assert not job.due(datetime(2026, 12, 2, 17, 0, tzinfo=UTC))
    assert job.next_after(SLOT) == first
    assert job.next_after(first) == datetime(2026, 12, 31, 17, 0, tzinfo=UTC)


def test_a_bad_cron_spec_is_refused_when_registered(jobs):
    with pytest.raises(ValueError):
        schedule.register("bad", lambda: "", cron="0 25 * * *")
    with pytest.raises(ValueError, match="five fields"):
        schedule.register("short", lambda: "", cron="0 1 1")


def test_the_apps_register_their_jobs_with_their_schedules():
    assert {
        "audit.checkpoint",
        "whistles.missed_report_ins",
        "services.escalations",
        "brain.maintenance",
        "hotline.monthly_stats",
        "schedule.forget_runs",
    } <= set(schedule.JOBS)
    assert schedule.JOBS["hotline.monthly_stats"].cron == "0 1 1 * *"
    assert schedule.JOBS["brain.maintenance"].every == timedelta(minutes=5)


@pytest.mark.django_db
def test_runs_older_than_thirty_days_are_forgotten():
    from django.utils import timezone

    now = timezone.now()
    JobRun.objects.create(name="old", slot=now - timedelta(days=31), started_at=now - timedelta(days=31))
    JobRun.objects.create(name="new", slot=now - timedelta(days=29), started_at=now - timedelta(days=29))
    assert schedule.forget_old_runs() == "1 run(s) older than 30 days forgotten"
    assert list(JobRun.objects.values_list("name", flat=True)) == ["new"]


def test_each_job_is_a_periodic_task_that_carries_its_scheduled_minute(jobs, queue):
    schedule.register("minutely", lambda: "")
    schedule.register("monthly", lambda: "", cron="0 1 1 * *")
    due = {task.name: task.kwargs for task in queue.read_periodic(datetime(2026, 11, 30, 17, 0, 42))}
    assert due == {
        "schedule.minutely": {"scheduled_for": "2026-11-30T17:00:00"},
        "schedule.monthly": {"scheduled_for": "2026-11-30T17:00:00"},
    }
    assert [task.name for task in queue.read_periodic(datetime(2026, 11, 18, 2, 0))] == ["schedule.minutely"]


@pytest.mark.django_db
def test_a_periodic_task_claims_the_minute_it_was_scheduled_for_even_when_run_late(jobs, queue):
    ran = []
    schedule.register("late", lambda: ran.append(1) or "ran")
    (first,) = queue.read_periodic(datetime(2026, 11, 18, 2, 0, 5))
    (second,) = queue.read_periodic(datetime(2026, 11, 18, 2, 0, 55))  # a second scheduler
    queue.execute(first)
    queue.execute(second)
    assert len(ran) == 1
    assert JobRun.objects.get(name="late").slot == SLOT


def test_soon_is_a_no_op_under_tests_unless_a_test_enables_it(jobs, queue):
    schedule.register("deliver", lambda: "")
    assert schedule.soon("deliver") is False
    assert queue.pending_count() == 0
    with pytest.raises(KeyError):
        schedule.soon("nobody")


@pytest.mark.django_db
def test_soon_coalesces_a_burst_into_one_pending_run(jobs, queue, settings):
    settings.SCHEDULE_SOON = True
    ran = []
    schedule.register("deliver", lambda: ran.append(1) or "delivered")
    assert [schedule.soon("deliver") for _ in range(20)] == [True] + [False] * 19
    assert queue.pending_count() == 1
    queue.execute(queue.dequeue())
    assert ran == [1]
    # the flag is gone with the run: the next call brings the next run
    assert schedule.soon("deliver") is True
    # a soon run follows the traffic: only its failures go into the run history
    assert not JobRun.objects.filter(name="deliver").exists()


@pytest.mark.django_db
def test_a_failing_soon_run_is_in_the_history(jobs, queue, settings):
    settings.SCHEDULE_SOON = True

    def broken() -> str:
        raise RuntimeError("the SMTP server said no")

    schedule.register("deliver", broken)
    assert schedule.soon("deliver") is True
    queue.execute(queue.dequeue())
    run = JobRun.objects.get(name="deliver")
    assert (run.ok, run.said) == (False, "RuntimeError: the SMTP server said no")
    assert run.finished_at is not None


def test_a_soon_flag_left_by_a_lost_run_does_not_block_forever(jobs, queue, settings, monkeypatch):
    settings.SCHEDULE_SOON = True
    schedule.register("deliver", lambda: "")
    assert schedule.soon("deliver") is True
    queue.flush()  # the run was lost with its consumer; the flag stayed
    queue.put_if_empty("cityloop.soon.deliver", 0.0)
    assert schedule.soon("deliver") is True
    assert queue.pending_count() == 1


def test_the_queue_is_sqlite_in_the_data_dir_redis_by_url_and_nothing_else(tmp_path, monkeypatch):
    monkeypatch.delenv("CITYLOOP_TASKS_URL", raising=False)
    monkeypatch.delenv("CITYLOOP_TASKS_NAME", raising=False)
    assert config.tasks(tmp_path) == {
        "backend": "sqlite",
        "path": str(tmp_path / "tasks.sqlite3"),
        "name": "cityloop",
    }
    monkeypatch.setenv("CITYLOOP_TASKS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("CITYLOOP_TASKS_NAME", "city-a")
    assert config.tasks(tmp_path) == {"backend": "redis", "url": "redis://127.0.0.1:6379/0", "name": "city-a"}
    monkeypatch.setenv("CITYLOOP_TASKS_URL", "amqp://guest@localhost//")
    with pytest.raises(config.ConfigError, match="CITYLOOP_TASKS_URL.*RabbitMQ is not supported"):
        config.tasks(tmp_path)
    monkeypatch.setenv("CITYLOOP_TASKS_URL", "postgresql://db/cityloop")
    with pytest.raises(config.ConfigError, match="CITYLOOP_TASKS_URL"):
        config.tasks(tmp_path)


@pytest.fixture
def redis_queue(settings):
    """Redis, under a name of this test run's own: the machine's Redis is shared by every test run."""
    redis = pytest.importorskip("redis")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1).ping()
    except redis.exceptions.ConnectionError:
        pytest.fail("Redis is not running on 127.0.0.1:6379")
    settings.TASKS = {
        "backend": "redis",
        "url": "redis://127.0.0.1:6379/0",
        "name": f"test-{uuid.uuid4().hex}",
    }
    tasks.reset()
    queue = tasks.huey()
    yield queue
    queue.flush()
    tasks.reset()


@pytest.mark.django_db
def test_on_redis_soon_coalesces_and_a_periodic_run_claims_its_slot(jobs, redis_queue, settings):
    assert redis_queue.storage.queue_key.startswith("huey.redis.test")
    settings.SCHEDULE_SOON = True
    ran = []
    schedule.register("deliver", lambda: ran.append(1) or "delivered")
    assert [schedule.soon("deliver") for _ in range(5)] == [True, False, False, False, False]
    assert redis_queue.pending_count() == 1
    redis_queue.execute(redis_queue.dequeue())
    for task in redis_queue.read_periodic(datetime(2026, 11, 18, 2, 0, 1)):
        redis_queue.execute(task)
        redis_queue.execute(task)
    assert len(ran) == 2
    assert JobRun.objects.filter(name="deliver", slot=SLOT).count() == 1


@pytest.mark.django_db
def test_on_a_new_installation_every_registered_job_runs_without_failing(settings, tmp_path):
    from cityloop.brain import engine

    settings.CITYLOOP_BRAIN_DIR = str(tmp_path / "brain")  # no device yet
    engine.forget_engines()
    try:
        failed = [(name, said) for name, said, ok in schedule.tick(SLOT) if not ok]
    finally:
        engine.forget_engines()
    assert failed == []
    assert JobRun.objects.filter(slot=SLOT, ok=True).count() == len(schedule.JOBS)
