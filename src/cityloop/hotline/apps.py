from datetime import timedelta

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

RANKINGS_DENIED = "rankings are for the city's staff"


class HotlineConfig(AppConfig):
    name = "cityloop.hotline"
    label = "hotline"
    verbose_name = _("Hotline")

    def ready(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from cityloop.core import permissions as p
        from cityloop.hotline import queries
        from cityloop.hotline.loaders import demo
        from cityloop.hotline.models import TimeLimit
        from cityloop.org import demo as org_demo

        # A time limit saved or deleted here counts at this process's next submit (queries.limits_for).
        post_save.connect(queries.forget_limits, sender=TimeLimit, dispatch_uid="hotline-time-limits-saved")
        post_delete.connect(
            queries.forget_limits, sender=TimeLimit, dispatch_uid="hotline-time-limits-deleted"
        )

        org_demo.extend(demo.load)
        org_demo.extend(demo.load_history)
        p.declare("hotline:submit", p.CITIZEN, menu=_("Report a problem"))
        p.declare("hotline:track", p.CITIZEN, menu=_("Track a request"))
        p.declare("hotline:mine", p.CITIZEN, menu=_("My requests"))
        p.declare("hotline:intake", p.DISPATCH, menu=_("Phone intake"))
        p.declare("hotline:queue", p.DISPATCH, menu=_("Dispatch queue"))
        p.declare("hotline:follow-ups", p.DISPATCH, menu=_("Follow-ups"))
        p.declare("hotline:arbitrations", p.DISPATCH, menu=_("Arbitration"))
        p.declare("hotline:inbox", p.UNITS, menu=_("Inbox"))
        p.declare("hotline:search", p.SEARCH, menu=_("Search requests"))
        p.declare("hotline:import", p.DISPATCH, menu=_("Import calls"))
        p.declare(
            "hotline:classifier",
            p.ADMIN | {p.Role.LEADER},
            menu=_("Classifier"),
            denied="the classifier's page is for administrators and leaders",
            after="schedule",
        )
        # the leaders' pages
        # the dashboard and the report are the leaders' (and the dispatch centre's) view of the whole city;
        # streets and departments see the rankings they are judged by, and the trends behind them
        overview_only = "the dashboard and the monthly report are for leaders and the dispatch centre"
        p.declare("leaders:dashboard", p.OVERVIEW, menu=_("Dashboard"), denied=overview_only)
        p.declare("leaders:rankings", p.STAFF, menu=_("Rankings"), denied=RANKINGS_DENIED)
        p.declare("leaders:report", p.OVERVIEW, menu=_("Monthly report"), denied=overview_only)
        # 治理类街乡: linked from the dashboard and the monthly report (which shows the list too)
        p.declare("leaders:governance-streets", p.OVERVIEW, denied=overview_only)
        # the one-page brief (HTML and PDF): linked from the dashboard
        p.declare("leaders:brief", p.OVERVIEW, denied=overview_only)
        # 未诉先办: the hot issues of the city's own intake, and the governance tasks (每月一题) made of them
        p.declare("leaders:hot-issues", p.OVERVIEW, menu=_("Hot issues"), denied=overview_only)
        p.declare("leaders:governance-tasks", p.OVERVIEW, menu=_("Governance tasks"), denied=overview_only)
        # 吹哨报到
        p.declare("whistles:street", p.STREET, menu=_("Whistles"))
        p.declare("whistles:assess", p.STREET, menu=_("Assess departments"))
        p.declare("whistles:summonses", p.DEPARTMENT, menu=_("Summonses"))
        p.declare("whistles:disputes", p.DISPATCH, menu=_("Report-in disputes"))
        from cityloop.core import schedule

        schedule.register("whistles.missed_report_ins", _missed_report_ins)
        schedule.register("hotline.reminders", _reminders)
        schedule.register("hotline.hot_issue_warnings", _hot_issue_warnings, every=timedelta(minutes=10))
        # the month just ended, counted once it is over: the rates, rankings and monthly report read it
        schedule.register("hotline.monthly_stats", _monthly_stats, cron="0 1 1 * *")
        # the classifier learns from the week's dispatcher decisions (promoted only if it does better)
        schedule.register("hotline.retrain_classifier", _retrain_classifier, cron=RETRAIN_CRON)


RETRAIN_CRON = "0 3 * * 1"  # Mondays 03:00 city time


def _retrain_classifier() -> str:
    from cityloop.hotline.intake import retrain

    return retrain.scheduled()


def _hot_issue_warnings() -> str:
    from cityloop.core import actors
    from cityloop.hotline.hotissues import actions, live

    warned = actions.warn_hot_issues(live.recent_issues(), actor=actors.SCHEDULE)
    return f"{len(warned)} hot issue(s) warned about"


def _reminders() -> str:
    from cityloop.hotline.handling import reminders

    return reminders.job()


def _monthly_stats() -> str:
    """``cityloop hotline stats --month`` for the month that just ended (in the city's time zone)."""
    from datetime import timedelta

    from django.utils import timezone

    from cityloop.core import actors
    from cityloop.hotline.performance import actions as performance

    last_month = (timezone.localdate().replace(day=1) - timedelta(days=1)).replace(day=1)
    rows = performance.recount_month(last_month, actor=actors.SCHEDULE)
    return f"recounted {last_month:%Y-%m}: {rows} row(s)"


def _missed_report_ins() -> str:
    from cityloop.hotline import actions

    return f"{actions.record_missed_report_ins()} missed report-in(s) recorded"
