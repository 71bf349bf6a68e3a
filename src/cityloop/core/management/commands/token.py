from datetime import timedelta

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cityloop.core import actions, actors, tokens
from cityloop.core.doors.forms import format_errors
from cityloop.core.models import ApiToken, User


class Command(BaseCommand):
    help = "Manage API tokens: create (shown once), list, revoke."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="create a token; it is printed once and never stored")
        create.add_argument("username", help="the account the token acts as")
        create.add_argument("--name", required=True, help="who or what uses it, e.g. 'FixMyStreet bridge'")
        create.add_argument(
            "--scope",
            action="append",
            required=True,
            choices=sorted(tokens.SCOPES),
            help="repeat for several scopes",
        )
        create.add_argument("--days", type=int, help="expire after this many days")
        create.add_argument(
            "--gateway",
            default="",
            help="brain tokens: write readings only for the devices of this gateway (* for every device)",
        )
        sub.add_parser("list", help="list tokens (prefix, owner, scopes, state)")
        revoke = sub.add_parser("revoke", help="revoke a token by its prefix")
        revoke.add_argument("prefix")

    def handle(self, *args, **options):
        action = options["action"]
        if action == "create":
            user = User.objects.filter(username=options["username"]).first()
            if user is None:
                raise CommandError(f"no user {options['username']!r}")
            expires = timezone.now() + timedelta(days=options["days"]) if options["days"] else None
            try:
                token, secret = actions.create_token(
                    user=user,
                    name=options["name"],
                    scopes=options["scope"],
                    expires_at=expires,
                    actor=actors.COMMAND,
                    gateway=options["gateway"],
                )
            except ValidationError as exc:
                raise CommandError(format_errors(exc)) from exc
            self.stdout.write(secret)
            self.stderr.write(
                f"token {token.prefix} for {user.username} ({token.scopes}); "
                "store it now, it cannot be shown again"
            )
        elif action == "list":
            for token in ApiToken.objects.select_related("user").order_by("created_at"):
                state = "revoked" if token.revoked_at else "active"
                self.stdout.write(
                    f"{token.prefix}\t{token.user.username}\t{token.scopes}\t{state}\t{token.name}"
                )
        else:
            token = ApiToken.objects.filter(prefix=options["prefix"]).first()
            if token is None:
                raise CommandError(f"no token with prefix {options['prefix']!r}")
            try:
                actions.revoke_token(token, actor=actors.COMMAND)
            except ValidationError as exc:
                raise CommandError(format_errors(exc)) from exc
            self.stdout.write(f"revoked {token.prefix}")
