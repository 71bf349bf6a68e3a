from django.core.management.base import BaseCommand, CommandError

from cityloop.core import anchor, audit


class Command(BaseCommand):
    help = (
        "Check the audit trail (`cityloop audit verify` exits 0 when the hash chain is intact and matches "
        "every signed checkpoint), or sign a checkpoint of it now (`cityloop audit checkpoint`)."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser(
            "verify", help="walk the hash chain, check the signed checkpoints, name the first problem"
        )
        sub.add_parser(
            "checkpoint",
            help="sign the chain's head now; the line is appended to "
            f"{anchor.CHECKPOINT_FILE} in the key folder and printed here",
        )

    def handle(self, *args, **options):
        if options["action"] == "checkpoint":
            try:
                point = anchor.write_checkpoint()
            except anchor.AnchorError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(point.line())
            return
        try:
            verdict = audit.verify()
        except anchor.AnchorError as exc:
            raise CommandError(str(exc)) from exc
        if not verdict.intact:
            raise CommandError(
                f"audit trail broken at {verdict.first_break} "
                f"({verdict.checked} record(s) before it are intact)"
            )
        points = len(anchor.read_checkpoints())
        self.stdout.write(
            f"audit trail intact: {verdict.checked} record(s) checked, {points} signed checkpoint(s) match"
        )
