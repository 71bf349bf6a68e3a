from django.core.management.base import BaseCommand, CommandError

from cityloop.core import audit


class Command(BaseCommand):
    help = "Check the audit trail: `cityloop audit verify` exits 0 when the hash chain is intact."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("verify", help="walk the hash chain and name the first broken link")

    def handle(self, *args, **options):
        verdict = audit.verify()
        if not verdict.intact:
            raise CommandError(f"audit trail broken at {verdict.first_break} "
                               f"({verdict.checked} record(s) before it are intact)")
        self.stdout.write(f"audit trail intact: {verdict.checked} record(s) checked")
