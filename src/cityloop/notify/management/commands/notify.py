"""``cityloop notify``: the delivery worker, the demo's mail catcher, and the outbox at a glance."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Notifications: deliver the outbox (once or --forever), run a local mail catcher, show the backlog"

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="what", required=True)
        deliver = sub.add_parser("deliver", help="send what is due (once, or --forever as a worker)")
        deliver.add_argument("--forever", action="store_true", help="keep delivering until stopped")
        deliver.add_argument("--batch", type=int, default=200, help="messages claimed at a time")
        deliver.add_argument("--poll", type=float, default=0.25, help="seconds between polls when idle")
        deliver.add_argument(
            "--lease",
            type=float,
            default=60.0,
            help="seconds a claimed batch is this worker's; a killed worker's batch is sent again after it",
        )
        catcher = sub.add_parser("catcher", help="a local SMTP server that keeps every message in a Maildir")
        catcher.add_argument("--port", type=int, default=8025)
        catcher.add_argument("--dir", default="", help="the Maildir (default: DATA_DIR/mail)")
        sub.add_parser("status", help="messages per status")
        subscribe = sub.add_parser("subscribe", help="subscribe another system's URL to event types")
        subscribe.add_argument("url")
        subscribe.add_argument("--events", required=True, help="comma-separated event types, or * for all")
        sub.add_parser("subscriptions", help="list the webhook subscriptions (never their secrets)")
        unsubscribe = sub.add_parser("unsubscribe", help="stop a webhook subscription")
        unsubscribe.add_argument("id", type=int)

    def handle(self, *args, **opts):
        getattr(self, f"_{opts['what']}")(opts)

    def _status(self, opts):
        from cityloop.notify import queries

        for status, n in queries.backlog().items():
            self.stdout.write(f"{status}: {n}")

    def _subscribe(self, opts):
        from django.core.exceptions import ValidationError

        from cityloop.core import actors
        from cityloop.notify import actions

        events = [e.strip() for e in opts["events"].split(",") if e.strip()]
        try:
            sub = actions.subscribe(opts["url"], events, actor=actors.COMMAND)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        self.stdout.write(f"subscription {sub.pk}: {sub.url} hears {', '.join(sub.events)}")
        self.stdout.write(f"signing secret (shown once; give it to the receiver): {sub.secret}")

    def _subscriptions(self, opts):
        from cityloop.notify.subscriptions import Subscription

        for sub in Subscription.objects.order_by("id"):
            state = "active" if sub.active else "stopped"
            self.stdout.write(f"{sub.pk}\t{state}\t{sub.url}\t{','.join(sub.events)}")

    def _unsubscribe(self, opts):
        from cityloop.core import actors
        from cityloop.notify import actions

        if not actions.unsubscribe(opts["id"], actor=actors.COMMAND):
            raise CommandError(f"no active subscription {opts['id']}")
        self.stdout.write(f"subscription {opts['id']} stopped")

    def _deliver(self, opts):
        from django.db import close_old_connections

        from cityloop.notify import deliver

        stop: list[int] = []

        def _interrupt(*_) -> None:  # Ctrl-C: finish the batch in hand; a second one interrupts at once
            if stop:
                raise KeyboardInterrupt
            stop.append(1)

        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        signal.signal(signal.SIGINT, _interrupt)
        while True:
            counts = deliver.deliver_batch(opts["batch"], lease_s=opts["lease"])
            if stop:
                break
            if not opts["forever"]:
                if not any(counts.values()):
                    break
                self.stdout.write(", ".join(f"{k} {v}" for k, v in counts.items()))
                continue
            if not any(counts.values()):
                close_old_connections()
                time.sleep(opts["poll"])

    def _catcher(self, opts):
        from cityloop.notify import catcher

        folder = Path(opts["dir"] or Path(settings.DATA_DIR) / "mail")
        controller, keep = catcher.start(port=opts["port"], folder=folder)
        self.stdout.write(f"mail catcher on 127.0.0.1:{controller.port}, keeping messages in {folder}")
        stop = []
        signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
        try:
            while not stop:
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        finally:
            controller.stop()
