"""`cityloop services lint|reductions|snapshot|tick|stats|verify`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from cityloop.core import actors
from cityloop.core.doors.forms import format_errors
from cityloop.services import actions, catalogue, queries, reductions, rules
from cityloop.services import actions as services_actions


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(f"{text!r} is not a date (YYYY-MM-DD)") from exc


def payload_from(argument: str) -> str:
    """The text to verify: a file's payload (a PDF or HTML certificate carries it between ``CLSEAL:``
    and ``:CLSEAL``; a text file may hold the bare payload), or the argument itself."""
    from cityloop.seal.verify import extract_payload

    try:
        is_file = Path(argument).is_file()
    except OSError:  # a payload too long to be a file name
        is_file = False
    path = Path(argument)
    if is_file:
        raw = path.read_bytes()
        return extract_payload(raw) or raw.decode("utf-8", errors="replace").strip()
    return argument.strip()


class Command(BaseCommand):
    help = (
        "The government-services catalogue: lint it, compare snapshots, run the approval clock, "
        "verify results."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        lint = sub.add_parser("lint", help="run the checklist linter over the published catalogue and drafts")
        lint.add_argument("--snapshot", help="lint the snapshot on or before this date instead")
        lint.add_argument("--published-only", action="store_true", help="skip drafts")
        red = sub.add_parser(
            "reductions", help="items, materials, certificates and visits removed between snapshots"
        )
        red.add_argument("--from", dest="date_from", required=True)
        red.add_argument("--to", dest="date_to", default=None, help="default: today")
        red.add_argument("--json", action="store_true")
        snap = sub.add_parser("snapshot", help="store the published catalogue as it stands")
        snap.add_argument("--date", default=None, help="the date it stands for (default: today)")
        snap.add_argument("--label", default="manual")
        sub.add_parser("snapshots", help="list stored snapshots")
        sub.add_parser("tick", help="escalate overdue approval tasks (the worker runs this)")
        sub.add_parser("stats", help="per-department timeliness, visits and resubmissions")
        verify = sub.add_parser(
            "verify", help="verify an e-certificate: a file (PDF/HTML/text) or the payload"
        )
        verify.add_argument("target")

    def handle(self, *args, **options):
        getattr(self, "do_" + options["action"])(options)

    def do_lint(self, options):
        lexicon = catalogue.lexicon()
        if options["snapshot"]:
            snapshot = catalogue.snapshot_on(_date(options["snapshot"]))
            if snapshot is None:
                raise CommandError(f"no snapshot on or before {options['snapshot']}")
            items = snapshot.data.get("items", [])
            where = f"snapshot {snapshot.taken_on} ({snapshot.label})"
        else:
            items = catalogue.catalogue_data()["items"]
            if not options["published_only"]:
                from cityloop.services.models import ItemVersion

                items += [catalogue.version_dict(v) for v in ItemVersion.objects.filter(status="draft")]
            where = "published catalogue and drafts"
        findings = rules.lint_catalogue(items, lexicon)
        for finding in findings:
            self.stdout.write(str(finding))
        summary = (
            f"{len(items)} items checked in {where} (lexicon {catalogue.lexicon_path().name}): "
            f"{len(findings)} findings"
        )
        if findings:
            codes = sorted({f.code for f in findings})
            raise CommandError(
                summary + " (" + ", ".join(f"{c}×{sum(f.code == c for f in findings)}" for c in codes) + ")",
                returncode=1,
            )
        self.stdout.write(summary)

    def do_reductions(self, options):
        start = _date(options["date_from"])
        end = _date(options["date_to"]) if options["date_to"] else dt.date.today()
        old, new = catalogue.snapshot_on(start), catalogue.snapshot_on(end)
        if old is None:
            raise CommandError(
                f"no snapshot on or before {start}; take one with `cityloop services snapshot`"
            )
        if new is None:
            raise CommandError(f"no snapshot on or before {end}")
        rows = reductions.compare(old.data, new.data)
        if options["json"]:
            self.stdout.write(
                json.dumps(
                    [
                        {"department": r.department, "name": r.name, "before": r.before, "after": r.after}
                        for r in rows
                    ],
                    ensure_ascii=False,
                    indent=1,
                )
            )
            return
        self.stdout.write(
            f"from snapshot {old.taken_on} ({old.label}) to snapshot {new.taken_on} ({new.label}); "
            "each cell: before → after, % removed"
        )
        self.stdout.write(reductions.format_table(rows))

    def do_snapshot(self, options):
        on = _date(options["date"]) if options["date"] else dt.date.today()
        try:
            snapshot = services_actions.take_snapshot(on=on, label=options["label"], actor=actors.COMMAND)
        except ValidationError as exc:
            raise CommandError(format_errors(exc)) from exc
        self.stdout.write(
            f"snapshot {snapshot.taken_on} ({snapshot.label}): {len(snapshot.data['items'])} items"
        )

    def do_snapshots(self, options):
        from cityloop.services.models import CatalogueSnapshot

        for s in CatalogueSnapshot.objects.order_by("taken_on", "pk"):
            self.stdout.write(f"{s.taken_on}\t{s.label}\t{len(s.data.get('items', []))} items")

    def do_tick(self, options):
        made = actions.escalate_overdue(actor=actors.COMMAND)
        for e in made:
            self.stdout.write(f"escalated task {e.task_id} ({e.task.application.number}) to level {e.level}")
        self.stdout.write(f"{len(made)} escalations")

    def do_stats(self, options):
        self.stdout.write(
            "department\tdecided\topen\tmean working h\ton time %\tescalated\tvisits\tresubmissions"
        )
        for r in queries.department_stats():
            self.stdout.write(
                f"{r['name']}\t{r['decided']}\t{r['open']}\t{r['mean_working_hours']}\t"
                f"{r['on_time_percent']}\t{r['escalated']}\t{r['visits']}\t{r['resubmissions']}"
            )

    def do_verify(self, options):
        if not actions.seal_installed():
            raise CommandError("the one-seal app (cityloop.seal) is not installed; it verifies certificates")
        from cityloop.seal.verify import verify_text

        result = verify_text(payload_from(options["target"]))
        if not result.ok:
            raise CommandError(f"NOT VALID: {result.reason}", returncode=1)
        self.stdout.write(f"VALID: {result.reason}")
        for k, v in result.claims.items():
            self.stdout.write(f"  {k}: {v}")
