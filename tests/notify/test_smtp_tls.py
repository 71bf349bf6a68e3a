"""E-mail over STARTTLS with a login, as a city's mail relay requires; a refused login or an untrusted
certificate is the channel's problem, not the messages': they wait, and nothing becomes a dead letter."""

from __future__ import annotations

import datetime as dt
import ssl

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from django.db import transaction

from cityloop.notify import actions, catcher, deliver
from cityloop.notify.models import Message, Status
from cityloop.notify.recipients import To

pytestmark = pytest.mark.django_db


@pytest.fixture
def certificate(tmp_path):
    """A self-signed certificate for localhost (the test's own trust anchor)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # fixed: valid around the pinned test clock
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "smtp.crt", tmp_path / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


def _relay(certificate):
    cert_path, key_path = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            b"cityloop",
            b"relay-secret",
        )
        return AuthResult(success=ok)

    return catcher.start(
        host="localhost",
        tls_context=context,
        require_starttls=True,
        auth_required=True,
        authenticator=authenticator,
    )


def _queue_one():
    with transaction.atomic():
        (m,) = actions.queue(
            "request.replied", [To("email", "wang@example.cn")], {"no": "R1", "reply": "已修复"}
        )
    return m


@pytest.fixture
def tls_settings(settings, certificate, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))  # trust the test's certificate
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_USE_TLS, settings.EMAIL_USE_SSL = "localhost", True, False
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "cityloop", "relay-secret"
    settings.EMAIL_TIMEOUT = 5
    return settings


def test_mail_goes_over_starttls_with_a_login(tls_settings, certificate):
    controller, keep = _relay(certificate)
    try:
        tls_settings.EMAIL_PORT = controller.port
        m = _queue_one()
        assert deliver.deliver_due()["sent"] == 1
        m.refresh_from_db()
        assert m.status == Status.SENT
        assert [x["To"] for x in keep.received] == ["wang@example.cn"]
    finally:
        controller.stop()


@pytest.mark.parametrize("problem", ["wrong password", "untrusted certificate"])
def test_a_relay_that_refuses_us_leaves_the_messages_waiting_not_dead(
    tls_settings, certificate, monkeypatch, problem
):
    controller, keep = _relay(certificate)
    try:
        tls_settings.EMAIL_PORT = controller.port
        if problem == "wrong password":
            tls_settings.EMAIL_HOST_PASSWORD = "nope"
        else:
            monkeypatch.delenv("SSL_CERT_FILE")
            monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent")
        made = [_queue_one() for _ in range(3)]
        counts = deliver.deliver_due(budget_s=0.5)
        assert counts["sent"] == counts["dead"] == 0
        assert set(Message.objects.filter(pk__in=[m.pk for m in made]).values_list("status", flat=True)) == {
            Status.QUEUED
        }
        assert keep.received == []
    finally:
        controller.stop()
