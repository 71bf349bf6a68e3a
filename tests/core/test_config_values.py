"""The hotline's configurable limits are checked at start with one clear line each."""

from __future__ import annotations

import pytest

from cityloop.core import config
from cityloop.hotline.performance import rates


def test_a_number_out_of_range_or_not_a_number_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("CITYLOOP_FINISH_DAYS", "abc")
    with pytest.raises(config.ConfigError, match="CITYLOOP_FINISH_DAYS='abc' must be a whole number"):
        config.env_number("CITYLOOP_FINISH_DAYS", 7, low=1, high=365, integer=True)
    monkeypatch.setenv("CITYLOOP_FINISH_DAYS", "0")
    with pytest.raises(config.ConfigError, match="between 1 and 365"):
        config.env_number("CITYLOOP_FINISH_DAYS", 7, low=1, high=365, integer=True)
    monkeypatch.setenv("CITYLOOP_FINISH_DAYS", "10")
    assert config.env_number("CITYLOOP_FINISH_DAYS", 7, low=1, high=365, integer=True) == 10


def test_unset_numbers_take_the_default(monkeypatch):
    monkeypatch.delenv("CITYLOOP_DUPLICATE_RADIUS_M", raising=False)
    assert config.env_number("CITYLOOP_DUPLICATE_RADIUS_M", 200) == 200


def test_reopen_rules_accept_only_known_answers(monkeypatch):
    monkeypatch.setenv("CITYLOOP_REOPEN_ON", "unresolved")
    assert config.reopen_rules() == ["unresolved"]
    monkeypatch.setenv("CITYLOOP_REOPEN_ON", "unresolved,angry")
    with pytest.raises(config.ConfigError, match="unknown rule"):
        config.reopen_rules()


def test_score_weights_and_the_streets_share_are_checked(monkeypatch):
    monkeypatch.setenv("CITYLOOP_SCORE_WEIGHTS", "response=0.2,resolution=0.4,satisfaction=0.4")
    assert config.score_weights(rates.DEFAULT_WEIGHTS, rates.check_weights) == {
        "response": 0.2,
        "resolution": 0.4,
        "satisfaction": 0.4,
    }
    monkeypatch.setenv("CITYLOOP_SCORE_WEIGHTS", "response=0.2,speed=0.8")
    with pytest.raises(config.ConfigError, match="unknown rate"):
        config.score_weights(rates.DEFAULT_WEIGHTS, rates.check_weights)
    monkeypatch.setenv("CITYLOOP_ASSESSMENT_WEIGHT", "0.25")
    with pytest.raises(config.ConfigError, match="1/3"):
        config.assessment_weight(rates.check_assessment_weight)
