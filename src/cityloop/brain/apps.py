from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BrainConfig(AppConfig):
    name = "cityloop.brain"
    label = "brain"
    verbose_name = _("City brain")

    def ready(self) -> None:
        from cityloop.brain.demo import demo_extension
        from cityloop.core import demo
        from cityloop.web.context import NAVIGATION

        if demo_extension not in demo.DEMO_EXTENSIONS:
            demo.DEMO_EXTENSIONS.append(demo_extension)
        staff = {"dispatcher", "street", "department", "leader", "admin", "auditor"}
        if not any(name == "brain:pulse" for name, *_ in NAVIGATION):
            NAVIGATION.insert(
                len(NAVIGATION) - 2 if len(NAVIGATION) >= 2 else 0, ("brain:pulse", _("City pulse"), staff)
            )
