from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BrainConfig(AppConfig):
    name = "cityloop.brain"
    label = "brain"
    verbose_name = _("City brain")

    def ready(self) -> None:
        from cityloop.brain.demo import demo_extension
        from cityloop.core import permissions as p
        from cityloop.org import demo

        demo.extend(demo_extension)
        from cityloop.brain import tuning
        from cityloop.org import packs

        packs.register_section("detectors", tuning.check)
        from datetime import timedelta

        from cityloop.core import schedule

        # The worker runs it too, beside ingest; from the scheduler it also happens while no worker runs
        # (the engine's file lock keeps the two apart).
        schedule.register("brain.maintenance", _maintenance, every=timedelta(minutes=5))
        schedule.register("brain.compact_archive", _compact_archive, cron="20 * * * *")
        # in the menu after the services' pages, before the certificates
        p.declare("brain:pulse", p.STAFF, menu=_("City pulse"), after="services:report")


def _maintenance() -> str:
    from cityloop.brain import actions

    done = actions.run_maintenance()
    return ", ".join(
        f"{key}={len(value) if isinstance(value, (list, set, dict)) else value}"
        for key, value in done.items()
    )


def _compact_archive() -> str:
    from cityloop.brain import actions

    return actions.compact_archive()
