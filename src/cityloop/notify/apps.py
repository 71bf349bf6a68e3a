from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "cityloop.notify"
    label = "notify"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from cityloop.core import permissions as p
        from cityloop.core import schedule
        from cityloop.notify import deliver

        schedule.register("notify.deliver", deliver.job)
        schedule.register("notify.digests", deliver.digest_job)

        # The inbox has no menu entry: the unread badge in every page's header links to it.
        p.declare("notify:inbox", p.SIGNED_IN)
        p.declare("notify:preferences", p.SIGNED_IN)
        p.declare("notify:outbox", p.ADMIN, menu=_("Outbox"))
