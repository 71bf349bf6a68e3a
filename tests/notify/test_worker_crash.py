"""A delivery worker killed mid-run loses nothing: a real ``cityloop notify deliver --forever`` process
gets SIGKILL while it sends 2,000 e-mails to a real SMTP server, another takes over, and every message
arrives; the only repeats are messages the killed one had leased and not marked sent."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from django.db import transaction
from django.utils import timezone

from cityloop.notify import actions, catcher, deliver
from cityloop.notify.models import Message, Status
from cityloop.notify.recipients import To
from tests.brain.conftest import database_url
from tests.clock import pinned_command, pinned_env

ROOT = Path(__file__).resolve().parents[2]
N = 2_000
PARAMS = {"no": "R20261118-00001", "reply": "已修复。"}


def _queue(n: int, start: int = 0) -> list[Message]:
    rows: list[Message] = []
    for k in range(start, start + n, 100):  # an action's transaction at a time, as a busy hotline commits
        with transaction.atomic():
            rows += actions.queue_many(
                actions.Note("request.replied", (To("email", f"c{i}@example.cn"),), PARAMS)
                for i in range(k, min(k + 100, start + n))
            )
    return rows


def _worker_env(smtp_port: int) -> dict[str, str]:
    """A delivery worker's environment: this test's database, the catcher as its SMTP server."""
    return {
        **os.environ,
        "CITYLOOP_DATABASE_URL": database_url(),
        "CITYLOOP_SMTP_HOST": "127.0.0.1",
        "CITYLOOP_SMTP_PORT": str(smtp_port),
        "PYTHONPATH": str(ROOT / "src") + os.pathsep + str(ROOT),
    }


def _worker(env: dict, logs: Path, name: str) -> subprocess.Popen:
    cmd = pinned_command(
        "cityloop.cli.main",
        "notify",
        "deliver",
        "--forever",
        "--batch",
        "100",
        "--lease",
        "3",
        "--poll",
        "0.1",
    )
    with open(logs / f"{name}.log", "ab") as out:
        return subprocess.Popen(cmd, env=pinned_env(env), cwd=ROOT, stdout=out, stderr=out)


def _logs(folder: Path) -> str:
    return "\n".join(
        f"--- {p.name}:\n{p.read_text(errors='replace')[-3000:]}" for p in sorted(folder.glob("*.log"))
    )


def _uids(keep: catcher.Keep) -> list[str]:
    with keep.lock:
        return [m["X-CityLoop-Message-Id"] for m in keep.received]


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_run_loses_no_message_and_repeats_only_what_it_had_in_flight(tmp_path):
    controller, keep = catcher.start()
    env = _worker_env(controller.port)
    logs = tmp_path / "logs"
    logs.mkdir()
    workers: list[subprocess.Popen] = []
    try:
        made = _queue(N)
        workers.append(_worker(env, logs, "first"))
        deadline = time.monotonic() + 60
        while len(_uids(keep)) < N // 4 and time.monotonic() < deadline:
            assert workers[0].poll() is None, f"the worker exited: {_logs(logs)}"
            time.sleep(0.01)
        # Frozen, its committed state stands still while the messages leased and not marked sent are
        # counted; these are all it may send twice. Any lease counts, not only one ending after this
        # process's now: the worker's clock starts from ours when it is spawned and lags it by its
        # start-up time, seconds on a loaded machine, longer than its 3 s lease. Marking, failing and
        # putting back all clear the lease, and no lease is older than this worker.
        os.kill(workers[0].pid, signal.SIGSTOP)
        in_flight = Message.objects.filter(status=Status.QUEUED, lease_until__isnull=False).count()
        os.kill(workers[0].pid, signal.SIGKILL)
        workers[0].wait(10)
        sent_before = len(_uids(keep))
        assert 0 < sent_before < N, f"the kill was not mid-run ({sent_before} of {N} received)"
        workers.append(_worker(env, logs, "second"))
        deadline = time.monotonic() + 60
        while Message.objects.filter(status=Status.QUEUED).exists() and time.monotonic() < deadline:
            assert workers[1].poll() is None, f"the second worker exited: {_logs(logs)}"
            time.sleep(0.1)
        time.sleep(0.3)  # the last 250s were answered before their rows were marked; nothing is late
    finally:
        for w in workers:
            if w.poll() is None:
                w.send_signal(signal.SIGTERM)
        for w in workers:
            try:
                w.wait(15)
            except subprocess.TimeoutExpired:
                w.kill()
        controller.stop()
    received = Counter(_uids(keep))
    queued = {str(m.uid) for m in made}
    lost = queued - set(received)
    duplicated = sum(received.values()) - len(received)
    assert not lost, f"{len(lost)} of {N} never arrived: {_logs(logs)}"
    assert set(received) == queued
    assert duplicated <= in_flight, (duplicated, in_flight)
    assert Message.objects.filter(status=Status.SENT).count() == N


@pytest.mark.django_db
def test_messages_put_back_in_an_outage_go_as_soon_as_the_server_answers_not_after_their_backoff(smtp):
    port = smtp.controller.port
    smtp.controller.stop()
    _queue(5)
    counts = deliver.deliver_due(budget_s=0.5)
    assert counts["sent"] == 0 and counts["retry"] == 5
    waiting = Message.objects.filter(status=Status.QUEUED, due_at__gt=timezone.now()).count()
    assert waiting == 5  # each backs off (5 s and more by default)
    controller, keep = catcher.start(port=port)
    try:
        _queue(1, start=5)  # the next message after the outage finds the server back…
        assert deliver.deliver_due()["sent"] == 6  # …and the five waiting go with it, not seconds later
        deadline = time.monotonic() + 5
        while len(keep.received) < 6 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(keep.received) == 6
    finally:
        controller.stop()
        smtp.controller.stop = lambda: None  # already stopped above


@pytest.mark.django_db(transaction=True)
def test_ctrl_c_stops_the_worker_after_its_batch_without_a_traceback(tmp_path):
    """`make demo` on Ctrl-C sends SIGINT to every process of the group: the worker ends cleanly."""
    controller, keep = catcher.start()
    env = _worker_env(controller.port)
    _queue(20)
    worker = _worker(env, tmp_path, "ctrl-c")
    try:
        deadline = time.monotonic() + 60
        while Message.objects.filter(status=Status.QUEUED).exists() and time.monotonic() < deadline:
            assert worker.poll() is None, _logs(tmp_path)
            time.sleep(0.1)
        worker.send_signal(signal.SIGINT)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
        controller.stop()
    assert worker.returncode == 0, _logs(tmp_path)
    assert "Traceback" not in _logs(tmp_path)
    assert Message.objects.filter(status=Status.SENT).count() == 20 == len(_uids(keep))
