"""The heat index's terms and the early-warning rule, as plain tables."""

from datetime import datetime, timedelta

import pytest

from cityloop.hotline.hotissues.heat import WARN_CALLERS, HeatTerms, heat_terms, peak_callers, warns

D = datetime(2019, 8, 1)


def at(days):
    return D + timedelta(days=days)


def test_the_terms_are_counted_from_the_messages():
    rows = [(at(0), "a", 3, 1), (at(0), "a", 0, 0), (at(5), "b", 10, 0), (at(40), "c", 0, 2)]
    assert heat_terms(rows) == HeatTerms(callers=3, messages=4, likes=13, dislikes=3, peak=2, weeks=40 / 7)


@pytest.mark.parametrize(
    ("hotter", "cooler"),
    [
        (dict(callers=10, messages=10), dict(callers=1, messages=10)),  # ten voices beat one voice ten times
        (dict(callers=3, messages=3, likes=100), dict(callers=3, messages=3)),
        (dict(callers=3, messages=3, dislikes=100), dict(callers=3, messages=3)),
        (dict(callers=3, messages=3, likes=100), dict(callers=3, messages=3, dislikes=100)),
        (dict(callers=5, messages=5, peak=5), dict(callers=5, messages=5, peak=1)),  # a flare-up
        (dict(callers=5, messages=5, weeks=20), dict(callers=5, messages=5, weeks=1)),  # it keeps coming back
        (
            dict(callers=5, messages=5, focus=1.0),
            dict(callers=5, messages=5, focus=0.5),
        ),  # one place, not many
    ],
)
def test_each_term_raises_the_heat(hotter, cooler):
    base = dict(callers=0, messages=0, likes=0, dislikes=0, peak=0, weeks=0)
    assert HeatTerms(**{**base, **hotter}).heat > HeatTerms(**{**base, **cooler}).heat


def test_the_peak_counts_distinct_callers_in_the_busiest_fourteen_days():
    assert (
        peak_callers([(at(0), "a"), (at(1), "b"), (at(2), "b"), (at(30), "c"), (at(31), "d"), (at(32), "e")])
        == 3
    )


def test_the_warning_needs_enough_distinct_callers_in_the_last_fourteen_days():
    recent = [(at(n), f"u{n}") for n in range(WARN_CALLERS)]
    assert warns(recent, at(WARN_CALLERS))
    assert not warns(recent[:-1], at(WARN_CALLERS))
    assert not warns([(at(0), "u1")] * 10, at(1))  # one caller, many times
    assert not warns(recent, at(30))  # too long ago
