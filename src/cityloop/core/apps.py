from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _create_cache_table(sender, using="default", **kwargs) -> None:
    """The database cache (rate limits, token lookups) needs its table; make it with every migrate."""
    if sender.label != "core":
        return
    from django.core.management import call_command

    call_command("createcachetable", database=using, verbosity=0)


class CoreConfig(AppConfig):
    name = "cityloop.core"
    label = "core"
    verbose_name = _("Accounts and audit")

    def ready(self) -> None:
        post_migrate.connect(_create_cache_table, sender=self, dispatch_uid="cityloop-cache-table")
        from cityloop.core import (
            checks,  # noqa: F401 - registers the configuration's system checks
            logins,  # noqa: F401 - connects the login audit and lockout signals
            schedule,
        )

        schedule.register("audit.checkpoint", _checkpoint)
        schedule.register("schedule.forget_runs", schedule.forget_old_runs, cron="30 3 * * *")
        from cityloop.core import permissions as p

        p.declare("home", p.SIGNED_IN, menu=_("Home"))
        p.declare("audit-trail", p.AUDIT, menu=_("Audit trail"))
        p.declare("admin:index", p.ADMIN, menu=_("Administration"))
        p.declare("schedule", p.ADMIN, menu=_("Schedule"))


def _checkpoint() -> str:
    from cityloop.core import anchor

    point = anchor.checkpoint_if_due()
    return f"signed seq={point.seq}" if point is not None else "not due"
