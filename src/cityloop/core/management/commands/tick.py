"""``cityloop tick``: every pillar's scheduled work once, now (``cityloop scheduler`` runs it by itself)."""

from django.core.management.base import BaseCommand, CommandError

from cityloop.core import schedule


class Command(BaseCommand):
    help = (
        "Run every scheduled job once now, claiming this minute: a job the scheduler already ran this "
        "minute is skipped. Safe to run from several machines at once."
    )

    def handle(self, *args, **options):
        failed = []
        for name, said, ok in schedule.tick():
            self.stdout.write(f"{name}: {'skipped (already run this minute)' if said is None else said}")
            if not ok:
                failed.append(name)
        if failed:
            raise CommandError(f"{len(failed)} job(s) failed: {', '.join(failed)} (tracebacks in the log)")
