"""``cityloop worker``: the brain's worker loop (same as ``cityloop brain worker``)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from cityloop.brain.management.commands.brain import add_worker_arguments, run_worker


class Command(BaseCommand):
    help = "Run the city brain's worker (--via nats|mqtt|inproc)"

    def add_arguments(self, parser):
        add_worker_arguments(parser)

    def handle(self, *args, **opts):
        run_worker(self, opts)
