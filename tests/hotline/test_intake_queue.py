"""Group commit: many threads submit, one writer stores them in shared transactions."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from cityloop.core import audit
from cityloop.hotline import intake_queue
from cityloop.hotline.actions import Submission
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
                sub = Submission(description=f"路灯不亮 {worker}-{i}", caller_phone="13812345678", lon=lon, lat=lat)
                results[worker * 100 + i] = intake_queue.submit(sub, city=city, channel="api",
                                                                idempotency=("test", key))
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
        intake_queue.submit(Submission(description="", caller_phone="1"), city=city, channel="api")
    assert "description" in refused.value.message_dict
    assert Request.objects.count() == 0
