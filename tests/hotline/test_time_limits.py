"""Per-category time limits: the nearest override on the category's chain wins, else the defaults.

``queries.limits_for`` walks the chain in one statement (a recursive CTE on SQLite and PostgreSQL);
these tests hold it to the rule the ORM loop it replaced followed, and to one query per call.
"""

from __future__ import annotations

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext

from cityloop.hotline import queries, rules
from cityloop.hotline.models import TimeLimit
from cityloop.org import queries as org_queries

pytestmark = pytest.mark.django_db


def _defaults(urgency: str) -> rules.Limits:
    cfg = settings.HOTLINE
    return rules.Limits(cfg["respond_hours"][urgency], cfg["finish_days"], cfg["complex_finish_days"])


@pytest.fixture
def chain(city):
    leaf = org_queries.category(city, "02.01.01")
    middle, top = leaf.parent, leaf.parent.parent
    assert middle is not None and top is not None  # a three-level taxonomy in the tiny pack
    return top, middle, leaf


def test_without_overrides_the_configured_defaults_apply(chain):
    _, _, leaf = chain
    assert queries.limits_for(leaf, "normal") == _defaults("normal")
    assert queries.limits_for(leaf, "urgent") == _defaults("urgent")
    assert queries.limits_for(None, "normal") == _defaults("normal")


def test_the_nearest_override_on_the_chain_wins_for_its_own_urgency(chain):
    top, middle, leaf = chain
    TimeLimit.objects.create(
        category=top, urgency="normal", respond_hours=48, finish_days=10, complex_finish_days=20
    )
    assert queries.limits_for(leaf, "normal") == rules.Limits(48.0, 10, 20)
    assert queries.limits_for(middle, "normal") == rules.Limits(48.0, 10, 20)
    TimeLimit.objects.create(
        category=middle, urgency="normal", respond_hours=12.5, finish_days=5, complex_finish_days=9
    )
    assert queries.limits_for(leaf, "normal") == rules.Limits(12.5, 5, 9)
    assert queries.limits_for(top, "normal") == rules.Limits(48.0, 10, 20)
    # another urgency's override does not apply
    TimeLimit.objects.create(
        category=leaf, urgency="urgent", respond_hours=1, finish_days=2, complex_finish_days=3
    )
    assert queries.limits_for(leaf, "normal") == rules.Limits(12.5, 5, 9)
    assert queries.limits_for(leaf, "urgent") == rules.Limits(1.0, 2, 3)
    assert queries.limits_for(middle, "urgent") == _defaults("urgent")


def test_one_query_whatever_the_depth(chain):
    top, _, leaf = chain
    TimeLimit.objects.create(
        category=top, urgency="normal", respond_hours=48, finish_days=10, complex_finish_days=20
    )
    queries.limits_for(None, "normal")
    fresh = type(leaf).objects.get(pk=leaf.pk)  # no parent loaded
    with CaptureQueriesContext(connection) as queries_run:
        assert queries.limits_for(fresh, "normal") == rules.Limits(48.0, 10, 20)
    assert len(queries_run.captured_queries) == 2  # whether overrides exist (saved since), then the chain
    with CaptureQueriesContext(connection) as queries_run:
        queries.limits_for(fresh, "normal")
    assert len(queries_run.captured_queries) == 1


def test_without_any_override_a_submit_asks_nothing_and_another_process_s_first_one_counts_soon(chain):
    _, _, leaf = chain
    assert queries.limits_for(leaf, "normal") == _defaults("normal")  # looks once
    with CaptureQueriesContext(connection) as queries_run:
        assert queries.limits_for(leaf, "normal") == _defaults("normal")
    assert queries_run.captured_queries == []
    # another process's override (no signal here): bulk_create sends none
    TimeLimit.objects.bulk_create(
        [TimeLimit(category=leaf, urgency="normal", respond_hours=6, finish_days=3, complex_finish_days=4)]
    )
    assert queries.limits_for(leaf, "normal") == _defaults("normal")  # not yet looked at again
    queries._overrides[0] -= queries.OVERRIDES_RECHECK_SECONDS  # the interval has passed
    assert queries.limits_for(leaf, "normal") == rules.Limits(6.0, 3, 4)
    TimeLimit.objects.all().delete()  # this process's own change: at once
    assert queries.limits_for(leaf, "normal") == _defaults("normal")
