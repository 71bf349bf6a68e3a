"""``cityloop serve`` as an operator starts it: gunicorn, WhiteNoise, collected static files.

The other tests serve static files from the app folders (finders), so only a real production server
on a new data directory shows whether the first start serves styles.
"""

from __future__ import annotations

import gc
import json
import os
import queue
import signal
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

from gunicorn.workers.gthread import ThreadWorker

from cityloop.core.management.commands import serve
from cityloop.core.net import free_port
from tests.clients import get_when_up
from tests.clock import pinned_command, pinned_env


def _serve(tmp_path: Path, *, workers: int, threads: int, **popen) -> tuple[subprocess.Popen, int]:
    """``cityloop serve`` on a new, empty data dir with the production settings (manifest storage, no
    finders; tests/_clock_run.py imports pytest via time-machine), its output in ``stdout``."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("CITYLOOP_") and k != "DJANGO_SETTINGS_MODULE"
    }
    env.update(CITYLOOP_DATA_DIR=str(data_dir), CITYLOOP_TESTING="0")
    command = ("serve", "--port", str(port), "--workers", str(workers), "--threads", str(threads))
    server = subprocess.Popen(
        pinned_command("cityloop.cli.main", *command),
        env=pinned_env(env),
        cwd=data_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        **popen,
    )
    return server, port


def test_the_first_start_on_an_empty_data_dir_serves_stylesheets(tmp_path: Path):
    server, port = _serve(tmp_path, workers=1, threads=2)
    try:
        status, content_type, body = get_when_up(f"http://127.0.0.1:{port}/static/web/cityloop.css")
        assert (status, content_type.split(";")[0]) == (200, "text/css"), body[:200]
        assert (
            body
            == (Path(__file__).resolve().parents[2] / "src/cityloop/web/static/web/cityloop.css").read_bytes()
        )

        # The hashed name the pages link to (the manifest collectstatic wrote) is served too.
        manifest = json.loads((tmp_path / "data" / "static" / "staticfiles.json").read_text(encoding="utf-8"))
        hashed = manifest["paths"]["web/cityloop.css"]
        status, content_type, _ = get_when_up(f"http://127.0.0.1:{port}/static/{hashed}")
        assert (status, content_type.split(";")[0]) == (200, "text/css")
    finally:
        server.terminate()
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()


def test_ctrl_c_stops_every_worker_without_sigkill(tmp_path: Path):
    """A terminal's Ctrl-C: SIGINT to the whole process group, then gunicorn's master sends its workers
    SIGQUIT too. Every worker must leave by itself (it logs "Worker exiting"), none may need the master's
    SIGKILL after the graceful timeout. Before, the second signal deadlocked a worker inside the first
    one's handler, or the interpreter's teardown outlasted the timeout."""
    server, port = _serve(
        tmp_path,
        workers=2,
        threads=4,
        start_new_session=True,  # a process group of its own, as a terminal's foreground job has
    )
    try:
        for _ in range(8):  # keep-alive off: new connections, so both workers are likely to answer some
            status, _, _ = get_when_up(f"http://127.0.0.1:{port}/static/web/cityloop.css")
            assert status == 200
        os.killpg(server.pid, signal.SIGINT)
        output, _ = server.communicate(timeout=60)
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.communicate()
    assert "SIGKILL" not in output, output[-2000:]
    assert output.count("Worker exiting") == 2, output[-2000:]
    assert server.returncode == 0


def _stopping_worker():
    worker = serve._worker_class().__new__(serve._worker_class())
    worker.tpool = ThreadPoolExecutor(max_workers=1)
    worker.cfg = SimpleNamespace(worker_int=lambda w: None)
    worker.alive = True
    return worker


def _handle_in_a_thread(steps) -> tuple[threading.Thread, list]:
    """Run ``steps`` (signal handlers called where the main thread would be interrupted) in a thread,
    so a handler that waits for a lock its own thread holds fails the test instead of hanging it."""
    outcome: list = []

    def run():
        try:
            steps(outcome)
        except SystemExit as exc:  # a handler leaves with sys.exit(0), as gunicorn's does
            outcome.append(exc.code)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(timeout=20)
    return thread, outcome


def test_a_quit_signal_while_the_worker_hands_a_connection_to_its_pool_stops_it():
    """The signal came while the main thread was inside the pool's submit(), which holds the pool's
    non-reentrant lock while it starts a thread (py-spy of a worker killed with SIGKILL in CI). gunicorn's
    handler called shutdown() there, which waited for that lock, held below it, forever."""
    worker = _stopping_worker()

    def submit_interrupted(outcome):
        with worker.tpool._shutdown_lock:  # as submit() holds it
            worker.handle_quit(signal.SIGINT, None)

    thread, outcome = _handle_in_a_thread(submit_interrupted)
    assert not thread.is_alive(), "the quit signal's handler waited for the lock of the code it interrupted"
    assert outcome == [0]
    assert worker.alive is False


def test_a_second_quit_signal_inside_the_first_ones_handler_returns():
    """A terminal's Ctrl-C is SIGINT to the process group and the master's SIGQUIT on top: the second
    handler runs between two bytecodes of the first one's and must return, once, not stop twice."""
    worker = _stopping_worker()
    worker_int = []

    def nested(outcome):
        def second_signal_meanwhile(w):
            worker_int.append(w)
            outcome.append(worker.handle_quit(signal.SIGQUIT, None))

        worker.cfg = SimpleNamespace(worker_int=second_signal_meanwhile)
        worker.handle_quit(signal.SIGINT, None)

    thread, outcome = _handle_in_a_thread(nested)
    assert not thread.is_alive()
    assert outcome == [None, 0]  # the second handler returned, the first left with exit code 0
    assert worker_int == [worker]


def test_leaving_waits_for_the_requests_running_in_the_pool_even_one_started_by_the_signal(monkeypatch):
    """The worker_exit hook shuts the pool down and waits for its threads, the one the signal caught in
    Thread.start() too (not yet in the pool's set); then it leaves with gunicorn's exit code."""
    pool = ThreadPoolExecutor(max_workers=2)
    running = threading.Event()
    answered: list[str] = []

    def request(name, seconds):
        running.set()
        threading.Event().wait(seconds)
        answered.append(name)

    pool.submit(request, "in the pool", 0.1)
    running.wait(5)
    name = f"{pool._thread_name_prefix}_9"
    caught = threading.Thread(target=request, args=("being started", 0.5), name=name)
    caught.start()
    exits: list[int] = []
    monkeypatch.setattr(serve.os, "_exit", exits.append)
    try:
        sys.exit(3)
    except SystemExit:
        serve._exit_now(None, SimpleNamespace(tpool=pool))
    assert sorted(answered) == ["being started", "in the pool"]
    assert exits == [3]
    assert pool._shutdown


def test_preload_warms_the_master_without_a_connection_or_a_thread():
    """What the workers would do on their first requests is done before the fork; pytest-django refuses
    database access in this test, so a preload that queried the database would fail here."""
    threads = threading.active_count()
    serve._preload()
    assert threading.active_count() == threads
    assert {
        "cityloop.hotline.performance.views",
        "cityloop.brain.views",
        "prometheus_client",
        "reportlab.platypus",
    } <= set(sys.modules)


def test_before_each_fork_connections_are_closed_and_the_heap_frozen(monkeypatch):
    closed: list[str] = []

    class Connection:
        def __init__(self, alias):
            self.alias = alias

        def close(self):
            closed.append(self.alias)

        def close_pool(self):
            closed.append(f"{self.alias} pool")

    class Handler:
        def all(self, initialized_only=False):
            assert initialized_only
            return [Connection("default"), Connection("replica")]

    monkeypatch.setattr(serve, "connections", Handler())
    gc.unfreeze()
    garbage_made_before_the_fork = [[] for _ in range(10)]
    try:
        serve._before_fork(None, None)
        assert closed == ["default", "default pool", "replica", "replica pool"]
        assert gc.get_freeze_count() > len(garbage_made_before_the_fork)
    finally:
        gc.unfreeze()


def test_gunicorn_forks_from_the_preloaded_application_with_the_hooks():
    options = {"host": "127.0.0.1", "port": 8000, "workers": 4, "threads": 16}
    settings = serve.gunicorn_settings(options)
    assert settings["preload_app"] is True
    assert settings["pre_fork"] is serve._before_fork
    assert settings["worker_exit"] is serve._exit_now
    assert (settings["post_fork"], settings["post_worker_init"]) == (
        serve._hold_quit_signals,
        serve._release_quit_signals,
    )
    assert issubclass(settings["worker_class"], ThreadWorker)
    assert settings["control_socket_disable"] is True  # no shared $HOME/.gunicorn/gunicorn.ctl
    assert "worker_class" not in serve.gunicorn_settings({**options, "threads": 1})  # gunicorn's sync worker


def test_a_quit_signal_while_a_worker_boots_stops_it_once_its_handlers_are_in_place():
    """Between the fork and the worker's own handlers, a signal only reached the master's handler (copied
    into the worker, its queue read by nobody): a Ctrl-C then left the booting worker serving until the
    graceful timeout's SIGKILL. The post_fork hook keeps what came since the fork and blocks what comes
    next; post_worker_init hands both to the worker's handlers, here ones that write the signal down."""
    arrived: list[int] = []
    handlers = {sig: signal.signal(sig, lambda sig, frame: arrived.append(sig)) for sig in serve.QUIT_SIGNALS}
    master = SimpleNamespace(SIG_QUEUE=queue.SimpleQueue())
    master.SIG_QUEUE.put_nowait(signal.SIGHUP)  # not a quit signal: the worker leaves it alone
    master.SIG_QUEUE.put_nowait(signal.SIGQUIT)  # the master's, before post_fork
    worker = SimpleNamespace()
    try:
        serve._hold_quit_signals(master, worker)
        # the terminal's, after post_fork: it waits. Sent to this thread: a new worker has no other
        # thread, but the test process may (a database pool's), and one of those would take it.
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)
        assert arrived == []
        serve._release_quit_signals(worker)
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, serve.QUIT_SIGNALS)
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
    assert sorted(arrived) == sorted([signal.SIGINT, signal.SIGQUIT])

    assert serve._take_quit_signals([signal.SIGTERM, signal.SIGHUP]) == [signal.SIGTERM]  # older gunicorn
