import os

from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the production web server (gunicorn) after collecting static files."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument("--workers", type=int, default=int(os.environ.get("CITYLOOP_WEB_WORKERS", "2")))
        # 16 threads: a worker can hold every connection of a busy client, and intake commits them together.
        parser.add_argument("--threads", type=int, default=int(os.environ.get("CITYLOOP_WEB_THREADS", "16")))

    def handle(self, *args, **options):
        from gunicorn.app.base import BaseApplication

        from cityloop.wsgi import application

        call_command("collectstatic", interactive=False, verbosity=0)
        bind = f"{options['host']}:{options['port']}"

        class Server(BaseApplication):
            def load_config(self):
                self.cfg.set("bind", bind)
                self.cfg.set("workers", options["workers"])
                self.cfg.set("threads", options["threads"])
                self.cfg.set("accesslog", None)
                self.cfg.set("graceful_timeout", 5)

            def load(self):
                return application

        self.stdout.write(f"CityLoop is serving at http://{bind}/  (Ctrl-C stops it)")
        self.stdout.flush()
        Server().run()
