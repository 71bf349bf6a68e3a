import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connections

from cityloop.core.net import free_port, wait_listening
from cityloop.org import demo


class Command(BaseCommand):
    help = (
        "Migrate, load the demo city and one account per role, then serve it with the city-brain worker "
        "feeding simulated devices (unless --load-only)."
    )

    cli = [sys.executable, "-m", "cityloop.cli.main"]

    def add_arguments(self, parser):
        parser.add_argument(
            "--city", default="beijing", help="built-in pack or pack folder (default: beijing)"
        )
        parser.add_argument("--load-only", action="store_true", help="load into the database and exit")
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--devices", type=int, default=200, help="simulated devices fed live by the worker"
        )
        parser.add_argument("--no-brain", action="store_true", help="serve without the city-brain worker")
        parser.add_argument(
            "--force",
            action="store_true",
            help="load into a database that holds accounts the demo did not create (adds demo "
            "logins with a published password: never on a real city's database)",
        )

    def handle(self, *args, **options):
        call_command("migrate", interactive=False, verbosity=0)
        if not options["force"] and not demo.is_demo_or_empty():
            raise CommandError(
                f"{settings.DATABASES['default']['NAME']} already holds accounts that the demo did not "
                "create; "
                "the demo would add logins whose password is published. Use a new CITYLOOP_DATA_DIR (or "
                "database), "
                "or pass --force if this really is a test database."
            )
        accounts = demo.load(options["city"], stdout=self.stdout)
        self.stdout.write(f"demo city {options['city']} loaded into {settings.DATABASES['default']['NAME']}")
        self.stdout.write(f"demo logins (password for all: {demo.DEMO_PASSWORD}):")
        for persona, user in accounts:
            scope = user.street or user.department or ""
            self.stdout.write(f"  {persona.username:<16} {user.get_role_display():<20} {scope}")
        from cityloop.core import queries as core_queries

        others = (
            core_queries.users().exclude(username__in=[p.username for p, _ in accounts]).order_by("username")
        )
        if others.exists():
            self.stdout.write(
                "  also: "
                + ", ".join(f"{u.username} ({u.department or u.get_role_display()})" for u in others[:12])
            )
        key, where = demo.open311_key()
        self.stdout.write(f"Open311 api_key for the README's examples (also in {where}): {key}")
        if options["load_only"]:
            return
        connections.close_all()  # the server's workers open their own
        helpers = self._notifications(options)
        # Scheduled work (reminders, escalations, missed report-ins, checkpoints) runs by itself, as in
        # production: its own process, stopped with the others.
        scheduler = subprocess.Popen([*self.cli, "scheduler"])  # noqa: S603
        helpers.append(scheduler)
        self.stdout.write(f"scheduler started (pid {scheduler.pid}): see /schedule/ as admin_zhang")
        brain = None
        if not options["no_brain"]:
            # The worker runs beside the web server as its own process, like in production.
            brain = subprocess.Popen(  # noqa: S603 (our own interpreter and module, no shell)
                [
                    *self.cli,
                    "brain",
                    "worker",
                    "--via",
                    "inproc",
                    "--devices",
                    str(options["devices"]),
                ]
            )
            self.stdout.write(
                f"city-brain worker started (pid {brain.pid}) with {options['devices']} simulated "
                "devices: see /brain/"
            )
        # The web server is a process of its own too. Called in this process, gunicorn's workers forked
        # from one that had loaded the demo city and the brain archive's native libraries; on Ctrl-C they
        # hung on exit until gunicorn SIGKILLed them ("Perhaps out of memory?").
        server = subprocess.Popen(  # noqa: S603 (our own interpreter and module, no shell)
            [*self.cli, "serve", "--host", options["host"], "--port", str(options["port"])]
        )
        try:
            try:
                server.wait()
            except KeyboardInterrupt:  # Ctrl-C reaches the whole group: the server stops by itself
                try:
                    server.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    server.terminate()
        finally:
            if server.poll() is None:
                server.terminate()
                server.wait(timeout=30)
            for process in ([brain] if brain is not None else []) + helpers:
                process.terminate()
            for process in ([brain] if brain is not None else []) + helpers:
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()

    def _notifications(self, options) -> list[subprocess.Popen]:
        """A local mail catcher the demo's e-mail goes to, and a delivery worker for the outbox."""
        port = free_port(preferred=8025)
        folder = Path(settings.DATA_DIR) / "mail"
        os.environ["CITYLOOP_SMTP_HOST"], os.environ["CITYLOOP_SMTP_PORT"] = "127.0.0.1", str(port)
        cli = [*self.cli, "notify"]
        catcher = subprocess.Popen([*cli, "catcher", "--port", str(port), "--dir", str(folder)])  # noqa: S603
        # The delivery worker only once the catcher listens: started together, its first batch found no
        # server, put the demo's messages back and logged an "outage" on every first start.
        if not wait_listening("127.0.0.1", port, process=catcher):
            self.stderr.write(  # the worker keeps retrying; the outbox page shows why
                f"the mail catcher did not listen on 127.0.0.1:{port}; e-mail waits in the outbox"
            )
        deliver = subprocess.Popen([*cli, "deliver", "--forever"])  # noqa: S603
        self.stdout.write(
            f"notifications: a mail catcher on 127.0.0.1:{port} keeps every e-mail the city sends in "
            f"{folder}; texts and robots are off in the demo (see /notify/outbox/ as admin_zhang)"
        )
        return [catcher, deliver]
