"""One msgid, one Chinese: Django merges every app's catalogue into one, and where two apps translate the
same msgid (in the same context) differently, the app listed first in INSTALLED_APPS wins everywhere —
silently. So a brain alarm's "Open" (处置中) showed hotline's "打开", and an outbox message's "Sent"
(已发送) services' "发出时间". A word that means different things gets a context (pgettext, {% translate
… context … %}); this test finds any that did not."""

from __future__ import annotations

import gettext
from pathlib import Path

from django.apps import apps


def _catalogues() -> dict[str, dict[str, str]]:
    found = {}
    for config in apps.get_app_configs():
        mo = Path(config.path) / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.mo"
        if config.name.startswith("cityloop.") and mo.exists():
            with mo.open("rb") as handle:
                catalogue = gettext.GNUTranslations(handle)._catalog  # type: ignore[attr-defined]
            found[config.label] = {k: v for k, v in catalogue.items() if isinstance(k, str) and k and v}
    return found


def test_no_two_apps_translate_one_msgid_differently():
    catalogues = _catalogues()
    assert {"hotline", "services", "brain", "notify", "web"} <= set(catalogues)
    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for label, catalogue in catalogues.items():
        for msgid, text in catalogue.items():
            first = seen.setdefault(msgid, (label, text))
            if first[1] != text:
                shown = msgid.replace("\x04", " | ")
                clashes.append(f"{shown!r}: {first[0]} {first[1]!r}, {label} {text!r}")
    assert not clashes, "give these a context (pgettext):\n" + "\n".join(clashes)
