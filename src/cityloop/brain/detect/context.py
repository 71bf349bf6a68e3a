"""A contextual anomaly detector: a memory of which facts follow which (no Django, no numpy).

The algorithm is the Contextual Anomaly Detector of M. Smirnov (CAD OSE, the open-source
edition scored on NAB's board at 69.9 / 67.0 / 73.2); this is CityLoop's own implementation of
it, written from its description and checked on NAB (``make bench-nab``).

How it works, per reading of one series:

1. **facts** — the reading is put in one of ``2**bits`` bins of the series' value range and the
   bin number is written as ``bits`` facts, one per bit (bit ``s`` set or not);
2. **contexts** — a context is a pair (left facts → right facts): "after these facts came those".
   Every step remembers the zero-level context (previous step's facts → this step's facts) and,
   from the contexts the step partly matched, the crossings of their matched parts (at most
   ``max_left`` left facts), so the memory holds ever more general rules;
3. **surprise** — a context whose left side was fully present last step was *selected*; if its
   right side is fully present now it is *active*. Two ratios make the anomaly score: the share
   of selected contexts that did not come true and the share of this step's candidate contexts
   that were new to the memory;
4. **neurons** — the most often active contexts (``max_active``) become facts themselves for the
   next step, so sequences longer than one step are learned;
5. **prediction** — the fully matched left sides with the best hit rate predict the next facts;
   a reading whose bit facts were all predicted scores 0;
6. **rest** — after a score of ``threshold`` or more, the next ``rest`` readings score 0, so one
   incident gives one alarm.

Memory grows with the number of distinct contexts (thousands on a NAB file of a few thousand
readings), so this detector is for the city's sensors, few and irregular, not for its millions of
meters (those keep :mod:`.streaming`'s fixed 80 bytes).
"""

from __future__ import annotations

from collections.abc import Iterable

_VALUE_FACT = 1 << 16  # bit s of the bin number is fact _VALUE_FACT + 2 s + bit
_NEURON_FACT = 1 << 31  # context c active last step is fact _NEURON_FACT + c


class _Left:
    """The left side of one or more contexts: its facts, how many of them the last crossing found,
    and the contexts it starts (right side's number → context number)."""

    __slots__ = ("contexts", "found", "number", "size")

    def __init__(self, number: int, size: int) -> None:
        self.number = number
        self.size = size
        self.found: list[int] = []
        self.contexts: dict[int, int] = {}


class _Right:
    __slots__ = ("found", "number", "size")

    def __init__(self, number: int, size: int) -> None:
        self.number = number
        self.size = size
        self.found: list[int] = []


class _Context:
    """One remembered rule. ``selected`` adds the size of the right side each time the left side was
    fully present, ``hits`` the right facts that then came, ``active`` counts full matches."""

    __slots__ = ("active", "hits", "key", "number", "right_facts", "selected", "zero_level")

    def __init__(
        self, number: int, right_facts: tuple[int, ...], zero_level: bool, key: tuple[int, int]
    ) -> None:
        self.number = number
        self.selected = 0
        self.hits = 0
        self.active = 0
        self.right_facts = right_facts
        self.zero_level = zero_level
        self.key = key  # the two sides' hashes: a fixed order among contexts equally often active


class _Memory:
    """Contexts stored as pairs of shared sides, found through an index from each fact to the
    sides holding it."""

    def __init__(self, max_left: int) -> None:
        self.max_left = max_left
        self.left_ids: dict[tuple[int, ...], int] = {}
        self.right_ids: dict[tuple[int, ...], int] = {}
        self.lefts: list[_Left] = []
        self.rights: list[_Right] = []
        self.left_index: dict[int, list[_Left]] = {}
        self.right_index: dict[int, list[_Right]] = {}
        self.contexts: list[_Context] = []
        self.crossed_lefts: list[_Left] = []
        self.crossed_rights: list[_Right] = []
        # The zero-level context made this step is not judged on the step that made it. Context 0
        # stands in when none was made: the original's "no new context" flag is False, which
        # compares equal to context number 0 (kept, so the scores are the original's).
        self.just_made = 0

    def remember(self, left_facts: tuple[int, ...], right_facts: tuple[int, ...], zero_level: bool) -> bool:
        """Store a context unless known; True if it is new. A known zero-level context is marked as
        one (only those are crossed into new contexts)."""
        left_id = self._side(left_facts, self.left_ids, self.lefts, self.left_index, _Left)
        right_id = self._side(right_facts, self.right_ids, self.rights, self.right_index, _Right)
        contexts = self.lefts[left_id].contexts
        context_id = contexts.get(right_id)
        if context_id is None:
            context_id = contexts[right_id] = len(self.contexts)
            self.contexts.append(
                _Context(context_id, right_facts, zero_level, (hash(left_facts), hash(right_facts)))
            )
            if zero_level:
                self.just_made = context_id
            return True
        if zero_level:
            self.contexts[context_id].zero_level = True
        return False

    @staticmethod
    def _side(facts: tuple[int, ...], ids: dict, sides: list, index: dict, make) -> int:
        """The number of the side with these facts, stored (and indexed by fact) if new."""
        number = ids.get(facts)
        if number is None:
            number = ids[facts] = len(sides)
            side = make(number, len(facts))
            sides.append(side)
            for fact in facts:
                index.setdefault(fact, []).append(side)
        return number

    @staticmethod
    def _cross(facts: Iterable[int], index: dict, before: list) -> list:
        """Which sides hold which of ``facts``: their ``found`` lists, the sides touched in order of
        creation (sides untouched now keep an empty list)."""
        for side in before:
            side.found = []
        touched = []
        for fact in facts:
            for side in index.get(fact, ()):
                if not side.found:
                    touched.append(side)
                side.found.append(fact)
        touched.sort(key=lambda side: side.number)
        return touched

    def judge(self, facts: tuple[int, ...], crossing: bool) -> tuple[list[_Context], int, list]:
        """Cross this step's facts with the right sides, then judge every context whose left side
        was (at least partly) present last step: the fully selected ones and the active ones, and
        the candidate contexts from partial matches (only when ``crossing``: a new zero-level
        context came this step)."""
        self.crossed_rights = self._cross(facts, self.right_index, self.crossed_rights)
        active: list[_Context] = []
        selected = 0
        candidates: list[tuple[tuple[int, ...], tuple[int, ...]]] = []
        skip = self.just_made
        for left in self.crossed_lefts:
            full_left = left.size == len(left.found)
            for right_id, context_id in left.contexts.items():
                if context_id == skip:
                    continue
                context = self.contexts[context_id]
                right = self.rights[right_id]
                found = len(right.found)
                if full_left:
                    selected += 1
                    context.selected += right.size
                    if found:
                        context.hits += found
                        if found == right.size:
                            context.active += 1
                            active.append(context)
                            continue
                elif not found:
                    continue
                if context.zero_level and crossing and found and len(left.found) <= self.max_left:
                    candidates.append((tuple(left.found), tuple(right.found)))
        self.just_made = 0
        return active, selected, candidates

    def predict(self, facts: tuple[int, ...], candidates: list) -> tuple[int, set[int]]:
        """Store the candidates, cross the step's facts (values and neurons) with the left sides,
        and predict the right facts of the fully present left sides' best contexts."""
        added = sum(self.remember(left, right, False) for left, right in candidates)
        self.crossed_lefts = self._cross(facts, self.left_index, self.crossed_lefts)
        best = 0.0
        chosen: list[_Context] = []
        for left in self.crossed_lefts:
            if left.size != len(left.found):
                continue
            for context_id in left.contexts.values():
                context = self.contexts[context_id]
                rate = context.hits / context.selected if context.selected > 0 else 0.0
                if rate > best:
                    best, chosen = rate, [context]
                elif rate == best:
                    chosen.append(context)
        predicted: set[int] = set()
        for context in chosen:
            predicted.update(context.right_facts)
        return added, predicted


class ContextDetector:
    """Scores one series, reading by reading, in [0, 1].

    ``low`` and ``high`` are the series' value range (a sensor kind's measuring range; NAB hands
    every detector each file's minimum and maximum for this). ``rest`` readings after a score of
    ``threshold`` or more score 0.
    """

    def __init__(
        self,
        low: float,
        high: float,
        *,
        rest: int = 30,
        threshold: float = 0.75,
        max_left: int = 7,
        max_active: int = 15,
        bits: int = 3,
    ) -> None:
        self.low = float(low)
        self.bits = bits
        self.top_bin = 2**bits - 1
        span = float(high) - self.low
        self.bin_width = (span if span != 0.0 else float(self.top_bin)) / self.top_bin
        self.rest = max(int(rest), 1)
        self.threshold = threshold
        self.max_active = max_active
        self.memory = _Memory(max_left)
        self.last_facts: tuple[int, ...] = ()
        self.predicted: set[int] = set()
        self.recent: list[float] = [1.0]  # the original starts resting, as after an alarm

    def _facts(self, value: float) -> tuple[int, ...]:
        number = min(max(int((value - self.low) / self.bin_width), 0), self.top_bin)
        return tuple(_VALUE_FACT + 2 * bit + ((number >> bit) & 1) for bit in range(self.bits))

    def score(self, value: float) -> float:
        facts = self._facts(value)
        surprise = any(fact not in self.predicted for fact in facts)
        memory = self.memory
        made = False
        candidates_seen: set = set()
        if self.last_facts:
            made = memory.remember(self.last_facts, facts, True)
            candidates_seen.add((self.last_facts, facts))
        active, selected, candidates = memory.judge(facts, made)
        candidates_seen.update(candidates)
        active.sort(key=lambda context: (context.active, context.key))
        neurons = [_NEURON_FACT + context.number for context in active[-self.max_active :]]
        self.last_facts = tuple(sorted({*facts, *neurons}))
        added, self.predicted = memory.predict(self.last_facts, candidates)
        added += made
        came_true = len(active) / selected if selected else 0.0
        new_share = added / len(candidates_seen) if made and candidates_seen else 0.0
        current = (1.0 - came_true + new_share) / 2.0 if surprise else 0.0
        resting = max(self.recent[-self.rest :]) >= self.threshold
        self.recent.append(current)
        if len(self.recent) > 2 * self.rest + 1:
            del self.recent[: -self.rest - 1]
        return 0.0 if resting else current


def context_scores(values: Iterable[float], low: float, high: float, **params) -> list[float]:
    """Scores of a whole series (one fresh detector)."""
    detector = ContextDetector(low, high, **params)
    return [detector.score(float(value)) for value in values]
