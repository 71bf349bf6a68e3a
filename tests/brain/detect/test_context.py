"""The contextual detector (brain/detect/context.py): it learns what follows what, scores a break
of a learned sequence, and rests after an alarm."""

from __future__ import annotations

from cityloop.brain.detect.context import ContextDetector, context_scores

CYCLE = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0]  # one value per bin


def test_a_learned_sequence_scores_nothing_and_a_break_of_it_scores_high():
    detector = ContextDetector(0.0, 7.0, rest=5)
    learning = [detector.score(v) for v in CYCLE * 30]
    assert set(learning[-3 * len(CYCLE) :]) == {0.0}  # every reading of the cycle is predicted
    # the cycle once more up to its top, then 0 where it always goes down to 6
    broken = [detector.score(v) for v in [*CYCLE[:8], 0.0]]
    assert broken[:8] == [0.0] * 8
    assert broken[8] >= 0.5


def test_after_an_alarm_the_next_readings_rest():
    """``rest`` changes only what is reported: after a score of ``threshold`` or more (reported or
    not) the next ``rest`` readings report 0, every other reading reports what a detector that
    never rests scores."""
    values = [*CYCLE * 20, 7.0, 3.0, 5.0, 1.0, *CYCLE * 3, 7.0, 0.0, *CYCLE * 2, 4.0, *CYCLE]
    never = context_scores(values, 0.0, 7.0, threshold=2.0)  # nothing reaches 2: it never rests
    rest = 4
    reported = context_scores(values, 0.0, 7.0, rest=rest)
    expected = [
        0.0 if max([1.0, *never[:i]][-rest:]) >= 0.75 else score for i, score in enumerate(never)
    ]  # the start rests too, as after an alarm
    assert reported == expected
    assert sum(score >= 0.75 for score in reported) >= 3  # the three breaks alarmed
    assert reported != never  # and some readings after them rested


def test_scores_are_causal_and_repeatable():
    values = [float((i * 7) % 11) for i in range(400)]
    whole = context_scores(values, 0.0, 10.0, rest=10)
    assert whole == context_scores(values, 0.0, 10.0, rest=10)
    assert whole[:250] == context_scores(values[:250], 0.0, 10.0, rest=10)
    changed = values[:250] + [10.0 - v for v in values[250:]]
    assert context_scores(changed, 0.0, 10.0, rest=10)[:250] == whole[:250]
    assert all(0.0 <= s <= 1.0 for s in whole)


def test_values_outside_the_range_fall_in_the_edge_bins_and_a_flat_range_works():
    assert ContextDetector(0.0, 7.0)._facts(-50.0) == ContextDetector(0.0, 7.0)._facts(0.0)
    assert ContextDetector(0.0, 7.0)._facts(99.0) == ContextDetector(0.0, 7.0)._facts(7.0)
    flat = context_scores([3.0] * 100, 3.0, 3.0, rest=5)
    assert flat[-50:] == [0.0] * 50
