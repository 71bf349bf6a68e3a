from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SealConfig(AppConfig):
    name = "cityloop.seal"
    label = "seal"
    verbose_name = _("E-certificates and seals")

    def ready(self) -> None:
        from cityloop.core import permissions as p

        p.declare("seal:certificates", p.SIGNED_IN, menu=_("E-certificates"))
        p.declare("seal:verify", p.SIGNED_IN, menu=_("Verify a certificate"))
