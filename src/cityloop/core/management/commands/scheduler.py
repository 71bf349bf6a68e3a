"""``cityloop scheduler``: the Huey consumer that runs every registered job on its schedule, and the
runs asked for with ``schedule.soon`` (decision 0012)."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from huey.consumer import Consumer

from cityloop.core import schedule, tasks


class Command(BaseCommand):
    help = (
        "Run the scheduled work by itself: missed report-ins, reminders and escalations, outbox "
        "delivery, the brain's maintenance, the monthly statistics, audit checkpoints. Two schedulers "
        "started by mistake still run each job once per slot."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=2, help="worker threads (default 2)")
        parser.add_argument(
            "--max-delay",
            type=float,
            default=0.5,
            help="longest wait between two looks at an idle SQLite queue, in seconds (default 0.5; Redis "
            "wakes the workers at once)",
        )

    def handle(self, *args, **options):
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1")
        logging.getLogger("huey").setLevel(logging.WARNING)
        queue = tasks.huey()
        where = settings.TASKS.get("path") or f"Redis, name {settings.TASKS['name']}"
        self.stdout.write(
            f"scheduler: {len(schedule.JOBS)} job(s) on {where}, {options['workers']} worker thread(s)",
        )
        self.stdout.flush()
        # SIGTERM (systemd, the demo) stops at once; a job cut short leaves its JobRun unfinished (ok
        # is None) and the next slot runs it again.
        # Huey's default lets an idle worker wait up to 10 s between looks at a SQLite queue; a soon()
        # from a commit (the outbox) must start within a second.
        Consumer(
            queue,
            workers=options["workers"],
            worker_type="thread",
            max_delay=max(0.05, options["max_delay"]),
        ).run()
