from __future__ import annotations

import pytest


@pytest.fixture
def smtp(settings):
    """A real SMTP server (aiosmtpd) on a free port, with Django's SMTP backend pointed at it."""
    from cityloop.notify import catcher

    controller, keep = catcher.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    keep.controller = controller
    yield keep
    controller.stop()


@pytest.fixture
def quick_retries(settings):
    settings.NOTIFY = {**settings.NOTIFY, "backoff_s": 0.01, "backoff_max_s": 0.05, "max_attempts": 3}
