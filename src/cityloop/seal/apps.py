from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SealConfig(AppConfig):
    name = "cityloop.seal"
    label = "seal"
    verbose_name = _("E-certificates and seals")

    def ready(self) -> None:
        from cityloop.web.context import NAVIGATION

        present = {name for name, _label, _roles in NAVIGATION}
        for entry in [
            ("seal:certificates", _("E-certificates"), None),
            ("seal:verify", _("Verify a certificate"), None),
        ]:
            if entry[0] not in present:
                NAVIGATION.append(entry)
