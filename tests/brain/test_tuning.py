"""A city tunes its detectors per device kind in its pack (issue 13): checked on import with the field
named, audited when it changes, and used by the detectors and the alarms' explanations."""

from __future__ import annotations

import json
import math

import pytest

from cityloop.brain import tuning
from cityloop.brain.detect.detectors import AlarmType, DetectorBank, Kind, Params
from cityloop.core.actors import SYSTEM
from cityloop.core.models import AuditRecord
from cityloop.org.actions import import_pack
from cityloop.org.packs import PackInvalid, load_pack
from tests.brain.detect.test_detectors import household

TUNED = "detectors:\n  water:\n    leak_min_rate: 0.05\n    spike_k: 40\n  noise:\n    stuck_s: 3600\n"


@pytest.fixture(autouse=True)
def _fresh_tuning():
    tuning.forget()
    yield
    tuning.forget()


def test_a_bad_tuning_is_refused_naming_each_field_and_its_rule(broken_pack):
    bad = (
        "detectors:\n  watr:\n    spike_k: 3\n  water:\n    spike_k: -1\n    spik: 2\n    zero_s: fast\n"
        "  noise:\n    leak_min_rate: 1\n"
    )
    with pytest.raises(PackInvalid) as caught:
        load_pack(broken_pack("pack.yaml", edit=lambda text: text + bad))
    problems = {e.field: e.message for e in caught.value.errors}
    assert "unknown device kind" in problems["detectors.watr"]
    assert problems["detectors.water.spike_k"] == "must be above 0, not -1"
    assert "not a tunable setting" in problems["detectors.water.spik"]
    assert problems["detectors.water.zero_s"].startswith("must be a number (seconds, 0 = never)")
    assert problems["detectors.noise.leak_min_rate"] == "leaks are found on water meters only"


def test_the_tuning_changes_only_the_kinds_and_settings_it_names():
    cleaned, problems = tuning.check(
        {"water": {"spike_k": 40, "leak_min_rate": "off"}, "noise": {"stuck_s": 60}}
    )
    assert problems == []
    p, base = tuning.params(cleaned), Params()
    assert p.spike_k[Kind.WATER] == 40 and math.isinf(p.leak_min_rate[Kind.WATER])
    assert p.stuck_s[Kind.NOISE] == 60
    for kind in Kind:
        if kind != Kind.WATER:
            assert p.spike_k[kind] == base.spike_k[kind]
        if kind != Kind.NOISE:
            assert p.stuck_s[kind] == base.stuck_s[kind]


def test_a_raised_leak_threshold_keeps_a_small_night_flow_quiet():
    ts, v = household(12, leak=0.012, leak_from=1_767_196_800 + 2 * 86_400, seed=4)

    def alarms(params):
        bank = DetectorBank(1, Kind.WATER, 900, params=params)
        found = []
        for k in range(0, len(ts), 96):
            r = bank.process(
                [0] * len(ts[k : k + 96]), ts[k : k + 96], v[k : k + 96], now=int(ts[k : k + 96][-1])
            )
            found += [AlarmType(int(t)) for t in r.alarms.type]
        return found

    assert AlarmType.LEAK in alarms(Params())
    raised, _ = tuning.check({"water": {"leak_min_rate": 0.05}})
    assert AlarmType.LEAK not in alarms(tuning.params(raised))
    # a bank restored from a checkpoint takes the tuning the city has now
    bank = DetectorBank(1, Kind.WATER, 900)
    bank.retune(tuning.params(raised))
    assert bank._leak_rate[Kind.WATER] == 0.05


@pytest.mark.django_db
def test_importing_a_tuning_is_audited_with_before_and_after_and_the_city_uses_it(broken_pack):
    plain = import_pack(load_pack(broken_pack("pack.yaml", edit=lambda t: t + "\n")), actor=SYSTEM)
    assert not AuditRecord.objects.filter(action="city.pack.detectors").exists()
    assert tuning.city_params().spike_k[Kind.WATER] == Params().spike_k[Kind.WATER]

    import_pack(load_pack(broken_pack("pack.yaml", edit=lambda t: t + TUNED)), actor=SYSTEM)
    first = AuditRecord.objects.get(action="city.pack.detectors")
    assert first.object_id == str(plain.pk)
    summary = json.loads(first.summary)
    assert summary["after"]["water"] == {"leak_min_rate": 0.05, "spike_k": 40.0}
    assert summary.get("before") is None
    tuning.forget()
    assert tuning.city_params().spike_k[Kind.WATER] == 40

    import_pack(load_pack(broken_pack("pack.yaml", edit=lambda t: t + TUNED)), actor=SYSTEM)
    assert AuditRecord.objects.filter(action="city.pack.detectors").count() == 1  # unchanged: nothing
    import_pack(load_pack(broken_pack("pack.yaml", edit=lambda t: t + "\n")), actor=SYSTEM)
    assert AuditRecord.objects.filter(action="city.pack.detectors").count() == 2  # back to the defaults
