from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cityloop.core import backup
from cityloop.core.management.commands.backup import passphrase_from


class Command(BaseCommand):
    help = (
        "Restore a `cityloop backup` archive onto an empty database: checksums first, then the database, "
        "files and keys, then migrate. Check it afterwards with `cityloop audit verify`."
    )

    def add_arguments(self, parser):
        parser.add_argument("src", help="the archive written by `cityloop backup`")
        parser.add_argument(
            "--passphrase-file",
            help="read the secrets' passphrase from this file "
            "(default: the CITYLOOP_BACKUP_PASSPHRASE variable)",
        )

    def handle(self, *args, **options):
        try:
            summary = backup.restore(options["src"], passphrase=passphrase_from(options))
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"restored {summary.path} ({summary.database}, {summary.files} files"
            f"{', private keys decrypted' if summary.secrets else ''}); "
            "now run `cityloop audit verify`"
        )
        for note in summary.notes:
            self.stdout.write(f"note: {note}")
