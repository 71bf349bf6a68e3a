import gc
import importlib
import logging
import os
import queue
import signal
import sys
import threading
from pathlib import Path

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import connections

from cityloop.core import config


def gunicorn_settings(options: dict) -> dict:
    """gunicorn's settings for the command's options."""
    settings = {
        "bind": f"{options['host']}:{options['port']}",
        "workers": options["workers"],
        "threads": options["threads"],
        "accesslog": None,
        # A request still running when SIGTERM comes (systemd's stop, TimeoutStopSec=30) gets this long to
        # finish: the slowest pages take about a second alone and several on two busy cores, which 5 s
        # cut off. Ctrl-C does not wait for it: the workers leave within a second (bench/bench_stop.py).
        "graceful_timeout": 10,
        # load() hands over the application built in handle(): the workers fork with it, and _preload's
        # work, already in memory.
        "preload_app": True,
        "pre_fork": _before_fork,
        "post_fork": _hold_quit_signals,
        "post_worker_init": _release_quit_signals,
        "child_exit": _worker_exited,
        "worker_exit": _exit_now,
        # No max_requests: no worker is known to leak, and a recycled one starts cold again.
        # gunicorn 25+ opens a control socket for `gunicornc` at one path per user ($HOME/.gunicorn/
        # gunicorn.ctl): every server on the machine (web nodes, benches, test runs, a demo) took the same
        # file from the one before. CityLoop is stopped and scaled by signals and systemd, never gunicornc.
        "control_socket_disable": True,
    }
    if options["threads"] > 1:  # with one thread gunicorn runs its sync worker, which has no such lock
        settings["worker_class"] = _worker_class()
    return settings


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


# What the pages import on their first request beyond their modules (found by comparing a worker's
# sys.modules before and after bench/bench_stop.py's walk): the metrics of every request, the brief's PDF.
# prometheus_client picks its multiprocess values at import, from PROMETHEUS_MULTIPROC_DIR, which
# _fresh_metrics_dir() has set by then; its metrics themselves are made in each worker (web/metrics.py).
PRELOAD = ("prometheus_client", "prometheus_client.multiprocess", "reportlab.platypus")


def _preload() -> None:
    """Do here, once, what every worker would do on its first requests: import the URL conf (and so every
    app's views) and PRELOAD, work out the URL resolver's reverse tables and read the translation
    catalogues in every language, compile CityLoop's templates (the cached loader keeps them). The
    workers fork warm and share those pages with this process. Nothing here opens a connection or
    starts a thread."""
    from django.apps import apps
    from django.conf import settings
    from django.template.loader import get_template
    from django.urls import get_resolver
    from django.utils import translation

    resolver = get_resolver()
    resolver.url_patterns  # noqa: B018 - loading the URL conf imports the views
    for name in PRELOAD:
        importlib.import_module(name)
    for code, _ in settings.LANGUAGES:
        with translation.override(code):  # the catalogues and the reverse tables are per language
            resolver.reverse_dict  # noqa: B018
            resolver.namespace_dict  # noqa: B018
    for app in apps.get_app_configs():
        folder = Path(app.path) / "templates"
        if app.name.startswith("cityloop.") and folder.is_dir():
            for template in sorted(folder.rglob("*.html")):
                get_template(template.relative_to(folder).as_posix())


def _before_fork(server, worker) -> None:
    """gunicorn's pre_fork hook, before every fork (respawns too): no connection of this process goes to
    the worker, and what this process made since the last fork is frozen too."""
    _close_connections_before_fork()
    _freeze()


def _freeze() -> None:
    """Move every object this process holds to the collector's permanent generation: a worker's
    collections then walk only what the worker made, never the inherited heap. A full collection over that
    heap took seconds on every worker at once on busy cores, at exit too (after "Worker exiting", past the
    graceful timeout: SIGKILL), and its writes to every object's header copied the shared pages into each
    worker."""
    gc.freeze()


# The signals that stop a worker: Ctrl-C (SIGINT to the process group), the master's SIGQUIT, systemd's
# SIGTERM.
QUIT_SIGNALS = frozenset({signal.SIGINT, signal.SIGQUIT, signal.SIGTERM})


def _hold_quit_signals(server, worker) -> None:
    """gunicorn's post_fork hook, in the new worker: from fork until the worker installs its own handlers
    (init_signals), the master's handlers it inherited only put a signal on the master's queue, which
    nothing reads in the worker. A Ctrl-C and the master's SIGQUIT in that window were both lost, and the
    worker, booting while the test's or the operator's Ctrl-C came, served on until the graceful timeout's
    SIGKILL (seen in CI on busy cores). From here they wait, blocked, and what came since the fork is
    kept; _release_quit_signals delivers both to the worker's handlers."""
    signal.pthread_sigmask(signal.SIG_BLOCK, QUIT_SIGNALS)
    worker.early_quit_signals = _take_quit_signals(server.SIG_QUEUE)


def _take_quit_signals(arrived) -> list[int]:
    """The quit signals on the master's signal queue as the worker inherited it (a queue.SimpleQueue in
    gunicorn 27, a list in older ones)."""
    if isinstance(arrived, list):
        signals = list(arrived)
        arrived.clear()
    else:
        signals = []
        while True:
            try:
                signals.append(arrived.get_nowait())
            except queue.Empty:
                break
    return [sig for sig in signals if sig in QUIT_SIGNALS]


def _release_quit_signals(worker) -> None:
    """gunicorn's post_worker_init hook, once the worker's own handlers are in place: a quit signal that
    came since the fork is sent again, and the blocked ones are let through, so the worker stops as if it
    had been running when they came."""
    signal.pthread_sigmask(signal.SIG_UNBLOCK, QUIT_SIGNALS)  # a blocked one is handled here
    for sig in dict.fromkeys(getattr(worker, "early_quit_signals", ())):
        os.kill(os.getpid(), sig)


def _exit_now(server, worker) -> None:
    """gunicorn's worker_exit hook, the worker's last step ("Worker exiting" is logged): once its requests
    are answered, leave with the exit code gunicorn chose, without the interpreter's teardown. That
    teardown dropped every module and collected the heap once more, which under load on busy cores took
    longer than the graceful timeout by itself (SIGKILL). Nothing is lost by skipping it: the requests
    have finished, each thread's database connection closed with its thread, the log is flushed here, and
    the master marks the worker's metrics dead (child_exit)."""
    leaving = sys.exc_info()[1]
    if not isinstance(leaving, SystemExit) or not isinstance(leaving.code, int | None):
        return  # anything else unwinds as gunicorn wrote it
    pool = getattr(worker, "tpool", None)  # gthread: requests still running finish first, as at exit
    if pool is not None:
        pool.shutdown(wait=True)
        # A thread the quit signal caught while it was being started (inside submit) is not in the pool's
        # set yet, which shutdown joins; it answers the connection it was started for, then sees the
        # shutdown. Its name carries the pool's prefix.
        prefix = f"{pool._thread_name_prefix}_"
        for thread in threading.enumerate():
            if thread.name.startswith(prefix) and thread is not threading.current_thread():
                thread.join()
    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(leaving.code or 0)


def _worker_class():
    """gunicorn's threaded worker, stopping once however many quit signals come, and never waiting for a
    lock in the signal handler. gunicorn's handle_quit calls the thread pool's shutdown(), which takes the
    pool's non-reentrant lock; a handler runs in the main thread between two of its bytecodes, and the
    worker waited for itself until the graceful timeout ended with SIGKILL ("Perhaps out of memory?")
    whenever that thread held the lock already:
    - a terminal's Ctrl-C sends SIGINT to the whole process group and the master sends every worker
      SIGQUIT on top: the second handler ran inside the first one's shutdown() (faulthandler showed
      handle_quit > shutdown > handle_quit > shutdown);
    - the signal came while the main thread handed a new connection to the pool (submit() holds the lock
      while it starts a thread; py-spy showed handle_quit > shutdown above submit > Thread.start, 1 run in
      30 on two busy cores).
    So the handler only marks the worker stopping and leaves with SystemExit, which unwinds the
    interrupted code and its locks; the worker_exit hook (_exit_now) then shuts the pool down and waits
    for the requests still running. A module-level class would import gunicorn wherever this command is
    imported."""
    from gunicorn.workers.gthread import ThreadWorker

    class QuitOnceThreadWorker(ThreadWorker):
        quitting = False

        def handle_quit(self, sig, frame):
            if self.quitting:
                return  # the first signal's handler is already stopping this worker
            self.quitting = True
            self.alive = False
            self.cfg.worker_int(self)
            sys.exit(0)

    return QuitOnceThreadWorker


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
        _preload()
        _close_connections_before_fork()
        gc.collect()  # the garbage of the start-up (checks, collectstatic) is not frozen for good
        _freeze()

        settings = gunicorn_settings(options)

        class Server(BaseApplication):
            def load_config(self):
                for name, value in settings.items():
                    self.cfg.set(name, value)

            def load(self):
                return application

        self.stdout.write(
            f"CityLoop is serving at http://{settings['bind']}/  (Ctrl-C stops it); metrics of all workers "
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
