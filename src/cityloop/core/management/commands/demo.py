from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from cityloop.core import demo


class Command(BaseCommand):
    help = "Migrate, load the demo city and one account per role, then serve (unless --load-only)."

    def add_arguments(self, parser):
        parser.add_argument("--city", default="beijing", help="built-in pack or pack folder (default: beijing)")
        parser.add_argument("--load-only", action="store_true", help="load into the database and exit")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        accounts = demo.load(options["city"], stdout=self.stdout)
        self.stdout.write(f"demo city {options['city']} loaded into {settings.DATABASES['default']['NAME']}")
        self.stdout.write(f"demo logins (password for all: {demo.DEMO_PASSWORD}):")
        for persona, user in accounts:
            scope = user.street or user.department or ""
            self.stdout.write(f"  {persona.username:<16} {user.get_role_display():<20} {scope}")
        if options["load_only"]:
            return
        call_command("serve", host=options["host"], port=options["port"])
