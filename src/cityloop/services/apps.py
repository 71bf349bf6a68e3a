from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServicesConfig(AppConfig):
    name = "cityloop.services"
    label = "services"
    verbose_name = _("Government services")

    def ready(self) -> None:
        from cityloop.core import permissions as p
        from cityloop.core import schedule
        from cityloop.org import demo as org_demo
        from cityloop.services import demo

        org_demo.extend(demo.load)
        schedule.register("services.escalations", _escalations)
        p.declare("services:catalogue", p.SIGNED_IN, menu=_("Services"))
        p.declare("services:my-applications", p.CITIZEN, menu=_("My applications"))
        p.declare("services:window", _may_open_window, menu=_("Window"))
        p.declare("services:tasks", p.APPROVERS, menu=_("Approvals"))
        p.declare("services:editor", p.ADMIN, menu=_("Catalogue editor"))
        p.declare("services:report", p.REFORM_READERS, menu=_("Reform report"))


def _may_open_window(user) -> bool:
    """The window's own check: only staff of a window department (and administrators)."""
    from cityloop.services.queries import is_clerk

    return is_clerk(user)


def _escalations() -> str:
    from cityloop.core import actors
    from cityloop.services import actions

    return f"{len(actions.escalate_overdue(actor=actors.SCHEDULE))} overdue approval task(s) escalated"
