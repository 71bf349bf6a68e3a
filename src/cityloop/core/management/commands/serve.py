import os
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections

from cityloop.core import config


def _fresh_metrics_dir() -> Path:
    """prometheus_client's multiprocess mode: every worker writes its figures to files here, a scrape of
    any worker adds them up. Files of an earlier run would be counted again, so they go first."""
    from django.conf import settings

    folder = Path(os.environ.get("PROMETHEUS_MULTIPROC_DIR") or Path(settings.DATA_DIR) / "metrics")
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):
        old.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return folder


def _worker_exited(server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


class Command(BaseCommand):
    help = "Run the production web server (gunicorn) after collecting static files."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument(
            "--port", type=int, default=config.env_number("PORT", 8000, low=1, high=65535, integer=True)
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=config.env_number("CITYLOOP_WEB_WORKERS", 4, low=1, high=64, integer=True),
        )
        # 16 threads: a worker can hold every connection of a busy client, and intake commits them together.
        parser.add_argument(
            "--threads",
            type=int,
            default=config.env_number("CITYLOOP_WEB_THREADS", 16, low=1, high=256, integer=True),
        )

    def handle(self, *args, **options):
        from gunicorn.app.base import BaseApplication

        metrics_dir = (
            _fresh_metrics_dir()
        )  # before prometheus_client is imported, in this process and the workers

        call_command("collectstatic", interactive=False, verbosity=0)
        # Only now: WhiteNoise indexes STATIC_ROOT once, when the application is built, so building it
        # before collectstatic on a new data directory served every /static/ file as 404 until a restart.
        # The project's WSGI_APPLICATION (cityloop.wsgi), found the way runserver finds it: the project
        # wiring sits above every app, so an app's command does not import it by name.
        from django.core.servers.basehttp import get_internal_wsgi_application

        application = get_internal_wsgi_application()
        _close_connections_before_fork()

        bind = f"{options['host']}:{options['port']}"

        class Server(BaseApplication):
            def load_config(self):
                self.cfg.set("bind", bind)
                self.cfg.set("workers", options["workers"])
                self.cfg.set("threads", options["threads"])
                self.cfg.set("accesslog", None)
                self.cfg.set("graceful_timeout", 5)
                self.cfg.set("child_exit", _worker_exited)

            def load(self):
                return application

        self.stdout.write(
            f"CityLoop is serving at http://{bind}/  (Ctrl-C stops it); metrics of all workers "
            f"are collected in {metrics_dir}"
        )
        self.stdout.flush()
        Server().run()


def _close_connections_before_fork() -> None:
    """Workers fork from this process: a connection, or a connection pool and its threads, opened
    here (by the checks, collectstatic) must not be shared by every worker. Each opens its own."""
    for connection in connections.all(initialized_only=True):
        connection.close()
        close_pool = getattr(connection, "close_pool", None)  # PostgreSQL with CITYLOOP_DATABASE_POOL
        if close_pool is not None:
            close_pool()
