"""Run the simulator and the worker in this process, in the background (``cityloop demo``)."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger("cityloop.brain.runner")


class Background(threading.Thread):
    """A daemon thread feeding live simulated readings of the demo devices through the ingest core."""

    def __init__(self, *, every_s: float = 5.0):
        super().__init__(name="cityloop-brain", daemon=True)
        self.every_s = every_s
        self.halt = threading.Event()
        self.stats = None

    def stop(self, timeout: float = 10.0) -> None:
        self.halt.set()
        self.join(timeout)

    def run(self) -> None:
        from django.db import connections

        from cityloop.brain import demo, worker

        try:
            sim = demo.simulator_for_demo(start=time.time())
            self.stats = worker.run_inproc(
                sim, checkpoint_every=self.every_s, maintenance_every=60.0, stop=self.halt.is_set
            )
        except Exception:  # noqa: BLE001 - the demo's web server keeps running without the live pulse
            log.exception("the brain's background simulator stopped")
        finally:
            connections.close_all()


def start_background(city=None, *, every_s: float = 5.0) -> Background:
    """Start live readings for the demo devices (registered by the demo extension); returns the thread."""
    if city is not None:
        from cityloop.brain import demo

        demo.register_demo_devices(city)
    thread = Background(every_s=every_s)
    thread.start()
    return thread


def run_inproc_demo(*, devices: int = 200, duration: float | None = None, stop=None):
    """``cityloop brain worker --via inproc``: the simulator over ``devices`` demo devices, in the
    foreground."""
    from cityloop.brain import demo, worker
    from cityloop.org.queries import default_city

    city = default_city()
    if city is not None:
        demo.register_demo_devices(city, devices)
    sim = demo.simulator_for_demo(start=time.time())
    return worker.run_inproc(sim, duration=duration, checkpoint_every=2.0, stop=stop)
