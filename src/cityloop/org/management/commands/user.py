import getpass

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from cityloop.core import actions, actors
from cityloop.core.doors.forms import format_errors
from cityloop.core.permissions import Role
from cityloop.org.models import Department, Jurisdiction


class Command(BaseCommand):
    help = "Manage accounts: `cityloop user add USERNAME --role ROLE [--street CODE | --department CODE]`."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        add = sub.add_parser("add", help="create an account")
        add.add_argument("username")
        add.add_argument("--role", required=True, choices=Role.values)
        add.add_argument("--password", help="the password (asked for when omitted)")
        add.add_argument("--name", default="", help="full name shown in the interface")
        add.add_argument("--phone", default="")
        add.add_argument("--email", default="")
        add.add_argument(
            "--street", help="street code, for street officials; a street or district a leader leads"
        )
        add.add_argument(
            "--department", help="department code, for department staff or the department a leader leads"
        )

    def handle(self, *args, **options):
        street = department = None
        if options["street"]:
            street = Jurisdiction.objects.filter(code=options["street"]).first()
            if street is None:
                raise CommandError(f"--street: no jurisdiction with code {options['street']!r}")
        if options["department"]:
            department = Department.objects.filter(code=options["department"]).first()
            if department is None:
                raise CommandError(f"--department: no department with code {options['department']!r}")
        password = options["password"] or getpass.getpass("password: ")
        try:
            user = actions.add_user(
                username=options["username"],
                password=password,
                role=options["role"],
                full_name=options["name"],
                phone=options["phone"],
                email=options["email"],
                street=street,
                department=department,
                actor=actors.COMMAND,
            )
        except ValidationError as exc:
            raise CommandError(format_errors(exc)) from exc
        self.stdout.write(f"created {user.username} ({user.get_role_display()})")
