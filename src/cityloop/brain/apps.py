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
        # in the menu after the services' pages, before the certificates
        p.declare("brain:pulse", p.STAFF, menu=_("City pulse"), after="services:report")
