from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class HotlineConfig(AppConfig):
    name = "cityloop.hotline"
    label = "hotline"
    verbose_name = _("Hotline")

    def ready(self) -> None:
        from cityloop.core import demo as core_demo
        from cityloop.hotline import demo
        from cityloop.web.context import NAVIGATION

        if demo.load not in core_demo.DEMO_EXTENSIONS:
            core_demo.DEMO_EXTENSIONS.append(demo.load)
        if demo.load_history not in core_demo.DEMO_EXTENSIONS:
            core_demo.DEMO_EXTENSIONS.append(demo.load_history)
        entries = [
            ("hotline:submit", _("Report a problem"), {"citizen"}),
            ("hotline:track", _("Track a request"), {"citizen"}),
            ("hotline:mine", _("My requests"), {"citizen"}),
            ("hotline:intake", _("Phone intake"), {"dispatcher", "admin"}),
            ("hotline:queue", _("Dispatch queue"), {"dispatcher", "admin"}),
            ("hotline:follow-ups", _("Follow-ups"), {"dispatcher", "admin"}),
            ("hotline:arbitrations", _("Arbitration"), {"dispatcher", "admin"}),
            ("hotline:inbox", _("Inbox"), {"street", "department"}),
            (
                "hotline:search",
                _("Search requests"),
                {"dispatcher", "admin", "street", "department", "leader"},
            ),
            ("hotline:import", _("Import calls"), {"dispatcher", "admin"}),
        ]
        known = {name for name, _label, _roles in NAVIGATION}
        for entry in entries:
            if entry[0] not in known:
                NAVIGATION.append(entry)
        from cityloop.hotline import views_leaders, views_whistles

        views_leaders.register_navigation()
        views_whistles.register_navigation()
        from cityloop.core import schedule

        schedule.register("whistles.missed_report_ins", _missed_report_ins)


def _missed_report_ins() -> str:
    from cityloop.hotline import actions

    return f"{actions.record_missed_report_ins()} missed report-in(s) recorded"
