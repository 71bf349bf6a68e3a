from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class NotifyConfig(AppConfig):
    name = "cityloop.notify"
    label = "notify"
    verbose_name = _("Notifications")

    def ready(self) -> None:
        from cityloop.core import schedule
        from cityloop.notify import deliver

        schedule.register("notify.deliver", deliver.job)
        schedule.register("notify.digests", deliver.digest_job)
