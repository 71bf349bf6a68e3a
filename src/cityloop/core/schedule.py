"""The scheduled work of every pillar, run by ``cityloop scheduler`` (a Huey consumer, decision 0012).
Pages never do this work: a GET must not write.

Each app registers its jobs in its ``AppConfig.ready``::

    schedule.register("services.escalations", escalate)                       # every minute
    schedule.register("brain.maintenance", maintain, every=timedelta(minutes=5))
    schedule.register("hotline.monthly_stats", recount, cron="0 1 1 * *")    # 01:00 city time on the 1st

Each job becomes a Huey periodic task. Before it runs, a run claims its slot (the minute it was
scheduled for, or the start of its period) by inserting a :class:`~cityloop.core.models.JobRun`; the
unique (name, slot) makes a second scheduler started by mistake skip what the first one has. A
failure is recorded on that row and logged with its traceback; it never stops the other jobs.
``soon(name)`` runs a job as soon as a worker is free, however many times it is called meanwhile.
A job must still be safe when two processes run it at once (``soon`` and its schedule may overlap).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db import close_old_connections as _close_old_connections
from django.utils import timezone
from huey import crontab

from cityloop.core import tasks

log = logging.getLogger("cityloop.schedule")
MINUTE = timedelta(minutes=1)
KEEP_RUNS = timedelta(days=30)
SOON_STALE_S = 300  # a "soon" flag older than this belongs to a run that was lost (a killed consumer)


@dataclass(frozen=True)
class Job:
    name: str
    run: Callable[[], str]
    every: timedelta | None = MINUTE
    cron: str | None = None

    def due(self, minute: datetime) -> bool:
        """Whether the job is scheduled at ``minute`` (aware)."""
        if self.cron:
            return _cron(self.cron)[0](_local(minute))
        return _epoch_minutes(minute) % self._period_minutes() == 0

    def slot(self, moment: datetime) -> datetime:
        """The start of the period ``moment`` falls in: what two schedulers claim alike."""
        minute = moment.astimezone(UTC).replace(second=0, microsecond=0)
        if self.cron:
            return minute
        return minute - timedelta(minutes=_epoch_minutes(minute) % self._period_minutes())

    def next_after(self, moment: datetime) -> datetime | None:
        """The next scheduled minute after ``moment`` (within about a year), for the schedule page."""
        start = moment.astimezone(UTC).replace(second=0, microsecond=0) + MINUTE
        if not self.cron:
            return self.slot(start) if self.slot(start) == start else self.slot(start) + self._period()
        full, by_day, by_hour = _cron(self.cron)
        zone = _zone()
        day = _local(start).replace(hour=0, minute=0)
        for _ in range(400):
            if by_day(day):
                for hour in range(24):
                    at = day.replace(hour=hour)
                    if not by_hour(at):
                        continue
                    for minute in range(60):
                        when = at.replace(minute=minute)
                        if full(when):
                            aware = when.replace(tzinfo=zone).astimezone(UTC)
                            if aware >= start:
                                return aware
            day = (day + timedelta(days=1)).replace(hour=0, minute=0)
        return None

    def describe(self) -> str:
        if self.cron:
            return f"cron {self.cron} ({settings.TIME_ZONE})"
        minutes = self._period_minutes()
        if minutes % 1440 == 0:
            return f"every {minutes // 1440} d"
        if minutes % 60 == 0:
            return f"every {minutes // 60} h"
        return f"every {minutes} min"

    def _period(self) -> timedelta:
        return self.every or MINUTE

    def _period_minutes(self) -> int:
        return int(self._period() // MINUTE)


JOBS: dict[str, Job] = {}


def register(
    name: str, job: Callable[[], str], *, every: timedelta | None = None, cron: str | None = None
) -> Job:
    """``job()`` does its work and returns one line saying what it did. It runs every minute unless
    ``every`` (whole minutes) or ``cron`` (``"minute hour day month weekday"`` in the city's time zone,
    as ``huey.crontab`` reads it) says otherwise."""
    if every is not None and cron is not None:
        raise ValueError(f"job {name}: give every= or cron=, not both")
    if every is not None and (every < MINUTE or every % MINUTE):
        raise ValueError(f"job {name}: every= must be a whole number of minutes, at least one")
    if cron is not None:
        _cron(cron)  # refuses a bad spec now, at start-up, not on the 1st of next month
    entry = Job(name, job, every=None if cron else (every or MINUTE), cron=cron)
    JOBS[name] = entry
    built = tasks.built()
    if built is not None:
        _attach(built, entry)
    return entry


# ---------------------------------------------------------------------------------------- running
def run_job(job: Job, slot: datetime | None, *, only_failures: bool = False) -> tuple[str, bool] | None:
    """Claim ``slot`` (None: this very moment, a run nobody else can have) and run; returns what the job
    said and whether it succeeded, or None when another scheduler already has the slot.

    ``only_failures`` (with no slot): keep a run in the history only when it fails. The runs that
    :func:`soon` asks for follow the traffic (one per burst of queued messages), so recording each
    would make the history grow with the city's activity and bury the scheduled runs."""
    from cityloop.core.models import JobRun

    now = timezone.now()
    run = None
    if not (only_failures and slot is None):
        try:
            with transaction.atomic():
                run = JobRun.objects.create(name=job.name, slot=slot or now, started_at=now)
        except IntegrityError:
            log.info("scheduled job %s: slot %s is taken, skipped", job.name, slot)
            return None
    try:
        said, ok = job.run(), True
    except Exception as exc:  # noqa: BLE001 - one broken job must not stop the others
        log.exception("scheduled job %s failed", job.name)
        said, ok = (f"{type(exc).__name__}: {exc}".splitlines() or [type(exc).__name__])[0], False
    finished = {"finished_at": timezone.now(), "ok": ok, "said": str(said)[:1000]}
    if run is not None:
        JobRun.objects.filter(pk=run.pk).update(**finished)
    elif not ok:
        JobRun.objects.create(name=job.name, slot=now, started_at=now, **finished)
    return said, ok


def run_all() -> list[tuple[str, str, bool]]:
    """Run every job once, now, unclaimed (tests; the command line uses :func:`tick`)."""
    done = []
    for name, job in list(JOBS.items()):
        said, ok = run_job(job, None) or ("", True)
        done.append((name, said, ok))
    return done


def run_now(name: str) -> tuple[str, bool]:
    """Run the job ``name`` once, now, unclaimed: what it said and whether it succeeded."""
    return run_job(JOBS[name], None) or ("", True)


def tick(now: datetime | None = None) -> list[tuple[str, str | None, bool]]:
    """Every job once, claiming this minute: a job a scheduler already ran this minute is skipped
    (said is None). ``cityloop tick`` runs this."""
    minute = (now or timezone.now()).astimezone(UTC).replace(second=0, microsecond=0)
    done: list[tuple[str, str | None, bool]] = []
    for name, job in list(JOBS.items()):
        result = run_job(job, minute)
        done.append((name, None, True) if result is None else (name, *result))
    return done


def forget_old_runs() -> str:
    """Keep the run history bounded: runs older than ``KEEP_RUNS`` go."""
    from cityloop.core.models import JobRun

    deleted, _ = JobRun.objects.filter(started_at__lt=timezone.now() - KEEP_RUNS).delete()
    return f"{deleted} run(s) older than {KEEP_RUNS.days} days forgotten"


def close_old_connections() -> None:
    """A worker thread's connection, renewed between runs as a request's would be (not inside a
    transaction: a test's, or a caller's that runs a job directly)."""
    if not connection.in_atomic_block:
        _close_old_connections()


def _run_scheduled(name: str, scheduled_for: str | None = None) -> None:
    job = JOBS.get(name)
    if job is None:  # registered in the producer, not here: an older process's task
        log.warning("scheduled job %s is not registered in this process; skipped", name)
        return
    when = datetime.fromisoformat(scheduled_for).replace(tzinfo=UTC) if scheduled_for else timezone.now()
    close_old_connections()
    try:
        run_job(job, job.slot(when))
    finally:
        close_old_connections()


def _run_soon(name: str) -> None:
    # The flag goes first: a call made while the job runs must bring one more run, or its work would
    # wait for the next scheduled one.
    tasks.huey().delete(_soon_key(name))
    job = JOBS.get(name)
    if job is None:
        log.warning("job %s asked to run soon is not registered in this process; skipped", name)
        return
    close_old_connections()
    try:
        run_job(job, None, only_failures=True)
    finally:
        close_old_connections()


# ---------------------------------------------------------------------------------------- reading
@dataclass(frozen=True)
class JobState:
    name: str
    every_minutes: int | None  # the schedule: every N minutes, or the cron spec in the city's zone
    cron: str | None
    last: object  # the latest JobRun, or None
    next_at: datetime | None
    failures: list  # the latest failed JobRuns, newest first


def overview(
    *, now: datetime | None = None, failures: int = 5, since: timedelta = timedelta(days=7)
) -> list[JobState]:
    """Each job with its schedule, last run, next run and recent failures (the admins' schedule page)."""
    from cityloop.core.models import JobRun

    now = now or timezone.now()
    states = []
    for name, job in sorted(JOBS.items()):
        runs = JobRun.objects.filter(name=name)
        failed = list(runs.filter(ok=False, started_at__gte=now - since).order_by("-started_at")[:failures])
        states.append(
            JobState(
                name,
                None if job.cron else job._period_minutes(),
                job.cron,
                runs.order_by("-started_at").first(),
                job.next_after(now),
                failed,
            )
        )
    return states


# ---------------------------------------------------------------------------------------- soon
def soon(name: str) -> bool:
    """Run the registered job ``name`` as soon as a scheduler's worker is free. A burst of calls enqueues
    at most one pending run. Returns whether this call enqueued one; False under tests unless
    ``settings.SCHEDULE_SOON`` is set, and when the queue cannot be reached (logged: the job's
    schedule catches up)."""
    if name not in JOBS:
        raise KeyError(f"no scheduled job named {name!r}")
    if not getattr(settings, "SCHEDULE_SOON", not settings.TESTING):
        return False
    try:
        queue = tasks.huey()
        key = _soon_key(name)
        if not queue.put_if_empty(key, time.time()):
            pending_since = queue.get(key, peek=True)
            if pending_since is not None and time.time() - float(pending_since) < SOON_STALE_S:
                return False
            queue.delete(key)
            if not queue.put_if_empty(key, time.time()):
                return False
        _soon_tasks[id(queue)](name)
        return True
    except Exception:  # noqa: BLE001 - callers are on_commit hooks; the schedule still runs the job
        log.exception("could not enqueue job %s to run soon", name)
        return False


def _soon_key(name: str) -> str:
    return f"cityloop.soon.{name}"


# ---------------------------------------------------------------------------------------- wiring
_soon_tasks: dict[int, Callable] = {}


def _attach(queue, job: Job) -> None:
    """``job`` as a periodic task of ``queue`` (its name is the job's, so producer and consumer agree)."""
    task_name = f"schedule.{job.name}"
    existing = [t for t in queue._registry._periodic_tasks if t.__name__ == task_name]
    for task_class in existing:  # registered again (tests): the new schedule wins
        queue._registry.unregister(task_class)

    def run(scheduled_for: str | None = None) -> None:
        _run_scheduled(job.name, scheduled_for)

    def due(timestamp: datetime) -> bool:  # Huey passes naive UTC (utc=True)
        return JOBS.get(job.name, job).due(timestamp.replace(tzinfo=UTC))

    queue.periodic_task(due, name=task_name)(run)


def _attach_all(queue) -> None:
    for job in list(JOBS.values()):
        _attach(queue, job)
    _soon_tasks[id(queue)] = queue.task(name="schedule.soon")(_run_soon)


tasks.on_build(_attach_all)


# ---------------------------------------------------------------------------------------- clock
def _zone() -> ZoneInfo:
    return ZoneInfo(settings.TIME_ZONE)


def _local(moment: datetime) -> datetime:
    """``moment`` as a naive wall-clock time in the city's zone (what a cron spec is written in)."""
    return moment.astimezone(_zone()).replace(tzinfo=None, second=0, microsecond=0)


def _epoch_minutes(moment: datetime) -> int:
    return int(moment.timestamp() // 60)


@lru_cache(maxsize=64)
def _cron(spec: str):
    """The spec's test of a minute, of a day (any time of it) and of an hour: the page's next run
    walks days, then hours, then minutes."""
    fields = spec.split()
    if len(fields) != 5:
        raise ValueError(f"cron spec {spec!r} must have five fields: minute hour day month weekday")
    minute, hour, day, month, weekday = fields
    full = crontab(minute, hour, day, month, weekday, strict=True)
    by_day = crontab("*", "*", day, month, weekday, strict=True)
    by_hour = crontab("*", hour, day, month, weekday, strict=True)
    return full, by_day, by_hour
