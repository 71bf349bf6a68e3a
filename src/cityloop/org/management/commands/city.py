from django.core.management.base import BaseCommand, CommandError

from cityloop.core import actors
from cityloop.org import actions, packs, queries


class Command(BaseCommand):
    help = (
        "City packs: `cityloop city import PATH|NAME` (built-in packs: beijing, nyc), `cityloop city list`."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        imp = sub.add_parser("import", help="check a pack and import it, all or nothing")
        imp.add_argument("path", help="a pack folder, or the name of a built-in pack")
        imp.add_argument("--check", action="store_true", help="only check the pack; store nothing")
        sub.add_parser("list", help="list the cities in the database")

    def handle(self, *args, **options):
        if options["action"] == "list":
            for city in queries.cities():
                pack = getattr(city, "pack", None)
                self.stdout.write(f"{city.code}\t{city.name}\t{pack.code if pack else '-'}")
            return
        try:
            pack = packs.load_pack(options["path"])
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        except packs.PackInvalid as exc:
            for error in exc.errors:
                self.stderr.write(f"  {error}")
            raise CommandError(
                f"{len(exc.errors)} problem(s) in {options['path']}; nothing was imported"
            ) from exc
        if options["check"]:
            self.stdout.write(
                f"pack {pack.code} is valid: {len(pack.areas)} areas, {len(pack.departments)} "
                f"departments, {len(pack.categories)} categories"
            )
            return
        city = actions.import_pack(pack, actor=actors.COMMAND)
        self.stdout.write(
            f"imported {pack.code} ({city.name}): {len(pack.areas)} areas, "
            f"{len(pack.departments)} departments, {len(pack.categories)} categories, "
            f"{len(pack.responsibilities)} responsibilities"
        )
