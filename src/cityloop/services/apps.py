from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServicesConfig(AppConfig):
    name = "cityloop.services"
    label = "services"
    verbose_name = _("Government services")

    def ready(self) -> None:
        from cityloop.core import demo as core_demo
        from cityloop.services import demo
        from cityloop.web.context import NAVIGATION

        if demo.load not in core_demo.DEMO_EXTENSIONS:
            core_demo.DEMO_EXTENSIONS.append(demo.load)
        from cityloop.core import schedule

        schedule.register("services.escalations", _escalations)
        entries = [
            ("services:catalogue", _("Services"), None),
            ("services:my-applications", _("My applications"), {"citizen"}),
            ("services:window", _("Window"), _may_open_window),
            ("services:tasks", _("Approvals"), {"department", "leader", "admin"}),
            ("services:editor", _("Catalogue editor"), {"admin"}),
            ("services:report", _("Reform report"), {"leader", "admin", "auditor"}),
        ]
        for entry in entries:
            if entry[0] not in {n for n, _l, _r in NAVIGATION}:
                NAVIGATION.append(entry)


def _may_open_window(user) -> bool:
    """The window's own check: only staff of a window department (and administrators)."""
    from cityloop.services.queries import is_clerk

    return is_clerk(user)


def _escalations() -> str:
    from cityloop.services import actions

    return f"{len(actions.escalate_overdue(actor=None))} overdue approval task(s) escalated"
