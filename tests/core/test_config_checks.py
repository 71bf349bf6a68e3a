"""Values read after the start are checked at the start: a Django system check names the variable."""

from __future__ import annotations

import pytest
from django.core import checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from cityloop.core import config


def _messages() -> list[str]:
    return [e.msg for e in checks.run_checks() if e.id == "cityloop.E001"]


@pytest.mark.parametrize(
    ("name", "value", "named"),
    [
        ("CITYLOOP_MQTT", "broker:port", "CITYLOOP_MQTT='broker:port'"),
        ("CITYLOOP_MQTT", "broker:70000", "CITYLOOP_MQTT='broker:70000'"),
        ("CITYLOOP_NATS_URL", "http://127.0.0.1:4222", "CITYLOOP_NATS_URL"),
        ("CITYLOOP_BRAIN_VERIFY_HOURS", "a day", "CITYLOOP_BRAIN_VERIFY_HOURS='a day'"),
        ("CITYLOOP_BRAIN_VERIFY_HOURS", "0", "CITYLOOP_BRAIN_VERIFY_HOURS='0'"),
        ("CITYLOOP_BRAIN_REOPEN_DAYS", "-1", "CITYLOOP_BRAIN_REOPEN_DAYS='-1'"),
        ("CITYLOOP_HOLIDAY_DIR", "/nonexistent/holidays", "CITYLOOP_HOLIDAY_DIR"),
        ("CITYLOOP_SERVICES_LEXICON", "/nonexistent/lexicon.yaml", "CITYLOOP_SERVICES_LEXICON"),
    ],
)
def test_a_bad_value_read_later_is_a_system_check_error_naming_the_variable(monkeypatch, name, value, named):
    monkeypatch.setenv(name, value)
    messages = _messages()
    assert len(messages) == 1 and named in messages[0], messages


def test_the_defaults_pass_the_check(monkeypatch):
    for name in config.LATER_VALUES:
        monkeypatch.delenv(name, raising=False)
    assert _messages() == []


def test_a_bad_value_stops_a_command_before_it_starts(monkeypatch):
    monkeypatch.setenv("CITYLOOP_MQTT", "broker:not-a-port")
    with pytest.raises(SystemCheckError, match="CITYLOOP_MQTT"):
        call_command("check")


def test_good_values_are_read_as_given(monkeypatch, tmp_path):
    monkeypatch.setenv("CITYLOOP_MQTT", "mqtt.city.example:8883")
    monkeypatch.setenv("CITYLOOP_NATS_URL", "tls://nats.city.example:4222")
    monkeypatch.setenv("CITYLOOP_HOLIDAY_DIR", str(tmp_path))
    assert config.mqtt_address() == ("mqtt.city.example", 8883)
    assert config.nats_url() == "tls://nats.city.example:4222"
    assert _messages() == []
