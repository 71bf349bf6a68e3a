"""The in-app inbox: the row itself is the message; delivering it only marks it sent."""

from __future__ import annotations

from cityloop.notify.channels.base import Outgoing


class Inbox:
    name = "inbox"
    one_endpoint = True

    def send(self, message: Outgoing) -> None:
        return None

    def close(self) -> None:
        return None
