"""The channels a message can go by, and :func:`channel`, the one place that builds them from settings.

Each entry of :data:`FACTORIES` builds a configured channel or returns None when it is off. The
delivery worker asks ``channel(name)`` once per batch. A bad setting stops every command at the start
(the system check in :mod:`.config`), not the first action that queues a message.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings as django_settings

from cityloop.notify.channels import config  # noqa: F401 - registers the settings' system check
from cityloop.notify.channels.base import Channel


def _email() -> Channel | None:
    from cityloop.notify.channels.email import Email

    return Email() if (getattr(django_settings, "NOTIFY", None) or {}).get("email", True) else None


def _inbox() -> Channel | None:
    from cityloop.notify.channels.inbox import Inbox

    return Inbox()


def _sms() -> Channel | None:
    from cityloop.notify.channels.config import channel_settings
    from cityloop.notify.channels.sms import AliyunSms

    settings = channel_settings()
    sms = settings["sms"]
    if sms["provider"] != "aliyun":
        return None
    return AliyunSms(
        access_key_id=sms["access_key_id"],
        access_key_secret=sms["access_key_secret"],
        sign_name=sms["sign_name"],
        templates=sms["templates"],
        endpoint=sms["endpoint"],
        timeout_s=settings["timeout_s"],
    )


def _robots(kind: str) -> Callable[[], Channel | None]:
    def build() -> Channel | None:
        from cityloop.notify.channels.config import channel_settings
        from cityloop.notify.channels.robots import Robots

        settings = channel_settings()
        robots = Robots(kind, settings["robots"], timeout_s=settings["timeout_s"])
        return robots if robots.robots else None

    return build


def _webhook() -> Channel | None:
    from cityloop.notify.channels.config import channel_settings
    from cityloop.notify.channels.webhooks import Webhooks

    settings = channel_settings()
    return Webhooks(timeout_s=settings["timeout_s"]) if settings["webhooks"] else None


# channel name → a function building it (None when it is off)
FACTORIES: dict[str, Callable[[], Channel | None]] = {
    "inbox": _inbox,
    "email": _email,
    "sms": _sms,
    "wecom": _robots("wecom"),
    "dingtalk": _robots("dingtalk"),
    "webhook": _webhook,
}


def channel(name: str) -> Channel | None:
    """The configured channel called ``name``, or None when it is off or unknown."""
    factory = FACTORIES.get(name)
    return factory() if factory else None
