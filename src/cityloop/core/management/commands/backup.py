from __future__ import annotations

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cityloop.core import backup


def passphrase_from(options) -> str | None:
    """The passphrase from --passphrase-file, or CITYLOOP_BACKUP_PASSPHRASE; never from the command line."""
    if options.get("passphrase_file"):
        try:
            return Path(options["passphrase_file"]).read_text(encoding="utf-8").rstrip("\n")
        except OSError as exc:
            raise CommandError(f"--passphrase-file {options['passphrase_file']}: {exc.strerror}") from exc
    return os.environ.get("CITYLOOP_BACKUP_PASSPHRASE") or None


class Command(BaseCommand):
    help = (
        "Write one consistent backup archive (database, media, brain archive, public keys, manifest with "
        "checksums); --with-secrets adds the private seal keys and the secret key, encrypted."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "dest", help="the archive file to write, or a folder to write a dated archive into"
        )
        parser.add_argument(
            "--with-secrets",
            action="store_true",
            help="also store the private seal keys and the secret key, encrypted with a passphrase",
        )
        parser.add_argument(
            "--passphrase-file",
            help="read the passphrase from this file (default: the CITYLOOP_BACKUP_PASSPHRASE variable)",
        )

    def handle(self, *args, **options):
        passphrase = None
        if options["with_secrets"]:
            passphrase = passphrase_from(options)
            if not passphrase:
                raise CommandError(
                    "--with-secrets needs a passphrase: set CITYLOOP_BACKUP_PASSPHRASE "
                    "or give --passphrase-file"
                )
        try:
            summary = backup.backup(options["dest"], passphrase=passphrase)
        except backup.BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"backup written: {summary.path} ({summary.database}, {summary.files} files, "
            f"{summary.bytes:,} bytes{', secrets encrypted' if summary.secrets else ''})"
        )
        for note in summary.notes:
            self.stdout.write(f"note: {note}")
