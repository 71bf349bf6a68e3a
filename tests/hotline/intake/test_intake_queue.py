"""Group commit: many threads submit, one writer stores them in shared transactions."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from unittest import mock

import pytest
from django.db import connection

from cityloop.core import audit
from cityloop.core.actors import SYSTEM
from cityloop.core.models import AuditRecord
from cityloop.hotline.actions import Submission
from cityloop.hotline.intake import actions as intake
from cityloop.hotline.intake import queue as intake_queue
from cityloop.hotline.models import Event, IdempotencyKey, Request

pytestmark = pytest.mark.django_db(transaction=True)


def test_concurrent_submits_are_each_stored_once_with_unique_numbers_and_an_intact_trail(city, tiny_places):
    lon, lat = tiny_places["D1S1C1"]
    results: dict[int, tuple] = {}
    errors: list[BaseException] = []

    def client(worker: int) -> None:
        try:
            for i in range(10):
                key = f"w{worker}-{i % 8}"  # the last two submits of each client retry earlier keys
                sub = Submission(
                    description=f"路灯不亮 {worker}-{i}", caller_phone="13812345678", lon=lon, lat=lat
                )
                results[worker * 100 + i] = intake_queue.submit(
                    sub, city=city, channel="api", idempotency=("test", key), actor=SYSTEM
                )
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=client, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert Request.objects.count() == 32 and IdempotencyKey.objects.count() == 32
    created = [r for r, was_created in results.values() if was_created]
    assert len(created) == 32
    assert len({r.tracking_no for r in created}) == 32
    for worker in range(4):
        assert results[worker * 100 + 8][0].pk == results[worker * 100 + 0][0].pk
        assert results[worker * 100 + 8][1] is False
    assert Event.objects.filter(kind="submitted").count() == 32
    assert audit.verify().intact


def test_a_bad_submission_is_refused_in_the_callers_thread_and_nothing_is_queued(city):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as refused:
        intake_queue.submit(
            Submission(description="", caller_phone="1"), city=city, channel="api", actor=SYSTEM
        )
    assert "description" in refused.value.message_dict
    assert Request.objects.count() == 0


def _prepared(city, place, key, description="路灯不亮", **extra):
    lon, lat = place
    sub = Submission(description=description, caller_phone="13812345678", lon=lon, lat=lat, **extra)
    return intake.prepare(
        sub, city=city, channel="api", idempotency=("test", key) if key else None, actor=SYSTEM
    )


def test_a_batch_stores_new_submits_once_and_answers_repeated_keys_with_the_first_request(city, tiny_places):
    place = tiny_places["D1S1C1"]
    [(first, created)] = intake.store([_prepared(city, place, "k1", attributes={"k": "k1", "n": [1, 2]})])
    assert created and first.pk is not None

    results = intake.store(
        [
            _prepared(city, place, "k1"),
            _prepared(city, place, "k2", "水管漏了"),
            _prepared(city, place, "k2"),
            _prepared(city, place, None, "井盖丢了"),
        ]
    )

    assert [created for _, created in results] == [False, True, False, True]
    assert results[0][0].pk == first.pk and results[2][0] is results[1][0]
    numbers = [first.tracking_no, results[1][0].tracking_no, results[3][0].tracking_no]
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == [1, 2, 3]
    assert Request.objects.count() == 3 and IdempotencyKey.objects.count() == 2
    assert set(Event.objects.values_list("request_id", "kind")) == {
        (r.pk, "submitted") for r in (first, results[1][0], results[3][0])
    }
    stored = Request.objects.select_related("street").get(pk=results[1][0].pk)
    assert (stored.tracking_no, stored.description, stored.street.code) == (numbers[1], "水管漏了", "D1S1")
    assert Request.objects.get(pk=first.pk).attributes == {"k": "k1", "n": [1, 2]}
    assert stored.response_due == results[1][0].response_due and stored.updated_at is not None
    assert audit.verify().intact
    assert sorted(
        AuditRecord.objects.filter(action="request.submit").values_list("object_id", flat=True)
    ) == sorted(str(r.pk) for r in (first, results[1][0], results[3][0]))
    results[3][0].title = "changed"
    results[3][0].save()  # a stored submit behaves as a saved row: saving updates it
    assert Request.objects.get(pk=results[3][0].pk).title == "changed" and Request.objects.count() == 3


@pytest.mark.skipif(connection.vendor != "sqlite", reason="the file lock orders SQLite's writers only")
def test_writers_take_turns_on_the_database_so_a_second_one_waits_for_the_first():
    inside, released = threading.Event(), threading.Event()
    order: list[str] = []

    def first() -> None:
        with intake_queue._database_turn():
            order.append("first in")
            inside.set()
            released.wait(5)
            order.append("first out")

    def second() -> None:
        inside.wait(5)
        with intake_queue._database_turn():
            order.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    inside.wait(5)
    threads[1].join(timeout=0.3)
    assert threads[1].is_alive() and order == ["first in"]
    released.set()
    for thread in threads:
        thread.join(timeout=5)
    assert order == ["first in", "first out", "second in"]


def _keyed(city, lon, lat, n):
    sub = Submission(description=f"路灯不亮 {n}", caller_phone="13812345678", lon=lon, lat=lat)
    return intake.prepare(sub, city=city, channel="api", idempotency=("culprit", str(n)), actor=SYSTEM)


def test_a_nul_byte_is_cleaned_before_it_can_reach_a_batch(city, tiny_places):
    lon, lat = tiny_places["D1S1C1"]
    sub = Submission(
        description="路灯\x00不亮",
        caller_name="王\x00",
        caller_phone="13812345678",
        lon=lon,
        lat=lat,
        attributes={"note\x00": "a\x00b"},
    )
    request, created = intake_queue.submit(
        sub,
        city=city,
        channel="api",
        actor=SYSTEM,
    )
    request.refresh_from_db()
    assert created and request.description == "路灯不亮" and request.caller_name == "王"
    assert request.attributes == {"note": "ab"}


def test_one_value_the_database_refuses_fails_alone_and_its_batch_neighbours_are_stored(city, tiny_places):
    from django.db import DataError

    lon, lat = tiny_places["D1S1C1"]
    items = [_keyed(city, lon, lat, n) for n in range(5)]
    culprit = items[2]
    real_write = intake._write_fresh

    def write(cursor, fresh, reserved=None):  # the database refuses any batch that holds the culprit
        if any(item is culprit for item in fresh):
            raise DataError("invalid byte sequence for encoding UTF8: 0x00")
        return real_write(cursor, fresh, reserved)

    futures = [Future() for _ in items]  # the batch as the writer thread would take it from its queue
    with mock.patch.object(intake, "_write_fresh", write):
        intake_queue.Writer()._write(list(zip(items, futures, strict=True)))
    assert isinstance(futures[2].exception(timeout=5), DataError)
    stored = [future.result(timeout=5) for n, future in enumerate(futures) if n != 2]
    assert all(created for _, created in stored)
    assert Request.objects.count() == 4 and IdempotencyKey.objects.count() == 4
    assert len({request.tracking_no for request, _ in stored}) == 4
    assert audit.verify().intact


def test_on_postgresql_a_nul_that_slipped_past_cleaning_fails_only_its_own_submit(city, tiny_places):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite stores a NUL; only PostgreSQL refuses it")
    lon, lat = tiny_places["D1S1C1"]
    items = [_keyed(city, lon, lat, n) for n in range(6)]
    items[3].request.description = "绕过清洗\x00"  # as if a future door forgot the rule
    futures = [Future() for _ in items]
    intake_queue.Writer()._write(list(zip(items, futures, strict=True)))
    assert futures[3].exception(timeout=5) is not None
    assert sum(1 for n, f in enumerate(futures) if n != 3 and f.result(timeout=5)[1]) == 5
    assert Request.objects.count() == 5 and audit.verify().intact


def test_on_postgresql_numbers_reserved_for_a_batch_that_fails_are_never_given_again(city, tiny_places):
    if connection.vendor != "postgresql":
        pytest.skip("only PostgreSQL reserves the numbers in a transaction of their own")
    from django.db import DataError

    lon, lat = tiny_places["D1S1C1"]
    first = [_keyed(city, lon, lat, n) for n in range(3)]
    stored = [request for request, _ in intake.store(first)]
    real_write = intake._write_fresh

    def refused(cursor, fresh, reserved=None):
        raise DataError("refused after the numbers were reserved")

    with mock.patch.object(intake, "_write_fresh", refused), pytest.raises(DataError):
        intake.store([_keyed(city, lon, lat, n) for n in range(10, 13)])
    assert intake._write_fresh is real_write
    later = [request for request, _ in intake.store([_keyed(city, lon, lat, n) for n in range(20, 22)])]
    numbers = [r.tracking_no for r in stored + later]
    assert len(set(numbers)) == 5 and Request.objects.count() == 5

    # the failed batch's three numbers are a gap, not given to the next batch
    def seq(r):
        return int(r.tracking_no.rsplit("-", 1)[1])

    assert min(map(seq, later)) - max(map(seq, stored)) == 4
    # SET LOCAL stayed in the reservation's transaction: later commits still wait for the flush
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        assert cursor.fetchone()[0] == "on"
    assert audit.verify().intact
