"""A local SMTP server that keeps every message it is given in a Maildir: the demo's mail catcher and
the tests' real SMTP server (aiosmtpd, the asyncio SMTP server the field uses for exactly this)."""

from __future__ import annotations

import mailbox
import threading
from email import message_from_bytes
from email.message import Message as EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller

from cityloop.core.net import free_port


class Keep:
    """aiosmtpd handler: every accepted message goes to ``folder`` (a Maildir) and to ``received``."""

    def __init__(self, folder: Path | None = None) -> None:
        self.maildir = mailbox.Maildir(str(folder), create=True) if folder else None
        self.received: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = message_from_bytes(envelope.original_content or envelope.content)
        with self.lock:
            self.received.append(message)
            if self.maildir is not None:
                self.maildir.add(message)
        return "250 Message accepted for delivery"


def start(
    host: str = "127.0.0.1", port: int = 0, folder: Path | None = None, **smtp_options
) -> tuple[Controller, Keep]:
    """Start a catcher in a background thread; ``port`` 0 picks a free one (``controller.port``).
    ``smtp_options`` go to aiosmtpd's server (``tls_context``, ``require_starttls``, ``authenticator``…)."""
    keep = Keep(folder)
    controller = Controller(
        keep, hostname=host, port=port or free_port(host), ready_timeout=10, **smtp_options
    )
    controller.start()
    return controller, keep
