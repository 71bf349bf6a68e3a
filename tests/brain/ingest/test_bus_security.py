"""MQTT and NATS connect with the configured credentials and TLS (the brokers' side is in deploy/)."""

from __future__ import annotations

import pytest

from cityloop.brain.ingest import bus
from cityloop.core.config import ConfigError


class FakePaho:
    def __init__(self):
        self.calls = []

    def username_pw_set(self, username, password):
        self.calls.append(("user", username, password))

    def tls_set(self, ca_certs=None):
        self.calls.append(("tls", ca_certs))


def test_mqtt_sends_the_configured_username_password_and_tls(monkeypatch, tmp_path):
    secret = tmp_path / "mqtt_password"
    secret.write_text("s3cret\n", encoding="utf-8")
    monkeypatch.setenv("CITYLOOP_MQTT_USERNAME", "cityloop-worker")
    monkeypatch.setenv("CITYLOOP_MQTT_PASSWORD_FILE", str(secret))
    monkeypatch.setenv("CITYLOOP_MQTT_CA_FILE", "/etc/ssl/certs/ca-certificates.crt")
    client = FakePaho()
    bus.mqtt_security(client)
    assert client.calls == [
        ("user", "cityloop-worker", "s3cret"),
        ("tls", "/etc/ssl/certs/ca-certificates.crt"),
    ]


def test_mqtt_without_settings_connects_plainly(monkeypatch):
    for name in ("CITYLOOP_MQTT_USERNAME", "CITYLOOP_MQTT_TLS", "CITYLOOP_MQTT_CA_FILE"):
        monkeypatch.delenv(name, raising=False)
    client = FakePaho()
    bus.mqtt_security(client)
    assert client.calls == []


def test_nats_uses_a_creds_file_tls_and_every_cluster_url(monkeypatch, tmp_path):
    creds = tmp_path / "worker.creds"
    creds.write_text("-----BEGIN NATS USER JWT-----\n", encoding="utf-8")
    monkeypatch.setenv("CITYLOOP_NATS_URL", "tls://nats-1:4222, tls://nats-2:4222")
    monkeypatch.setenv("CITYLOOP_NATS_CREDS", str(creds))
    monkeypatch.delenv("CITYLOOP_NATS_CA_FILE", raising=False)
    options = bus.nats_options()
    assert options["servers"] == ["tls://nats-1:4222", "tls://nats-2:4222"]
    assert options["user_credentials"] == str(creds) and options["tls"] is not None
    monkeypatch.setenv("CITYLOOP_NATS_CREDS", str(tmp_path / "missing.creds"))
    with pytest.raises(ConfigError, match="CITYLOOP_NATS_CREDS"):
        bus.nats_options()


def test_the_mosquitto_acl_lets_each_gateway_publish_only_under_its_own_name():
    from pathlib import Path

    acl = (Path(__file__).resolve().parents[3] / "deploy" / "mosquitto" / "cityloop.acl").read_text(
        encoding="utf-8"
    )
    assert "pattern write cityloop/gateways/%u/batch" in acl
    assert "pattern write cityloop/devices/%u/reading" in acl
    assert "topic read cityloop/#" in acl  # the worker's account reads everything
