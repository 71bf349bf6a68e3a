"""``cityloop tick``: every pillar's scheduled work once (a systemd timer runs it every minute)."""

from django.core.management.base import BaseCommand, CommandError

from cityloop.core import schedule


class Command(BaseCommand):
    help = (
        "Run the scheduled work once: missed whistle report-ins, overdue approval escalations, a signed "
        "audit checkpoint when due. Safe to run from several machines at once."
    )

    def handle(self, *args, **options):
        failed = []
        for name, said, ok in schedule.run_all():
            self.stdout.write(f"{name}: {said}")
            if not ok:
                failed.append(name)
        if failed:
            raise CommandError(f"{len(failed)} job(s) failed: {', '.join(failed)} (tracebacks in the log)")
