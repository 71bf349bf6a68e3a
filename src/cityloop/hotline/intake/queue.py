"""Group commit for high-volume intake: many submits, one transaction.

Each web worker process runs one writer thread. A submitting thread validates and prepares its
request itself (in parallel with the others), hands it to the writer and waits; the writer takes
everything queued since its last commit and stores it with ``intake.actions.store`` in one
transaction. Under light load a batch is one request and nothing waits; under heavy load a commit
carries dozens, which is what lets SQLite's single writer keep up. A submit is answered only after
its batch has committed, so an acknowledged request is never lost.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from contextlib import contextmanager

from cityloop.core.actors import Actor

try:
    import fcntl
except ImportError:  # Windows: SQLite's busy handler alone orders the writers
    fcntl = None

from django.db import DataError, IntegrityError, close_old_connections, connections

from cityloop.hotline.intake import actions as intake

MAX_BATCH = 256


@contextmanager
def _database_turn():
    """On SQLite, the writers of all processes take turns on a file lock next to the database.

    SQLite lets one writer in; the others would wait in its busy handler, which polls in sleeps of up
    to 100 ms. The kernel hands a released ``flock`` to the next waiter at once, and whoever waited
    has a bigger batch by then. PostgreSQL's row locks (daily counter, audit head) wake waiters by
    themselves.
    """
    connection = connections["default"]
    if connection.vendor != "sqlite" or fcntl is None:
        yield
        return
    name = str(connection.settings_dict["NAME"])
    if name == ":memory:" or name.startswith("file:"):
        yield
        return
    try:
        fd = os.open(f"{name}.intake-lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError:  # a read-only directory: still correct, SQLite's busy handler orders the writers
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


class Writer:
    def __init__(self) -> None:
        self._queue: list[tuple[intake.Prepared, Future]] = []
        self._ready = threading.Condition()
        self._thread: threading.Thread | None = None

    def submit(self, item: intake.Prepared) -> Future:
        future: Future = Future()
        with self._ready:
            self._queue.append((item, future))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="cityloop-intake-writer", daemon=True)
                self._thread.start()
            self._ready.notify()
        return future

    def _run(self) -> None:
        while True:
            with self._ready:
                while not self._queue:
                    self._ready.wait()
            with _database_turn():
                # Take the batch only once it is this process's turn: what queued up while another
                # process was writing goes into this commit.
                with self._ready:
                    batch, self._queue = self._queue[:MAX_BATCH], self._queue[MAX_BATCH:]
                self._write(batch)

    def _write(self, batch: list[tuple[intake.Prepared, Future]]) -> None:
        close_old_connections()
        try:
            results = intake.store([item for item, _ in batch])
        except (IntegrityError, DataError):
            # Another process claimed an idempotency key in the meantime, or the database refused one
            # value (the transaction rolled back: nothing of the batch is stored). One by one, the loser of
            # a race gets the winner's request and a refused submit fails alone; its neighbours are stored.
            results = [self._one(item) for item, _ in batch]
        except Exception as exc:  # noqa: BLE001 - every waiting submit must hear about the failure
            connections["default"].close()
            for _, future in batch:
                future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if isinstance(result, Exception):
                future.set_exception(result)
            else:
                future.set_result(result)

    @staticmethod
    def _one(item: intake.Prepared):
        item.request.pk = None  # the rolled-back batch may have given it an id that does not exist
        try:
            [result] = intake.store([item])
            return result
        except IntegrityError as exc:
            found = intake.existing_for(item.idempotency)
            return (found, False) if found is not None else exc
        except DataError as exc:
            return exc


_writer = Writer()


def submit(
    sub: intake.Submission,
    *,
    city,
    channel: str,
    actor: Actor,
    citizen=None,
    idempotency: tuple[str, str] | None = None,
    timeout: float = 60.0,
):
    """Like ``actions.submit_request``, but written together with other submits of this process.

    A repeated idempotency key is recognised by ``store`` inside the batch's transaction.
    """
    item = intake.prepare(
        sub, city=city, channel=channel, actor=actor, citizen=citizen, idempotency=idempotency
    )
    return _writer.submit(item).result(timeout=timeout)
