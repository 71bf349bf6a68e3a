"""Django system checks: configuration read after the start is checked at the start."""

from __future__ import annotations

from django.core import checks

from cityloop.core import config


@checks.register()
def later_values(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """Every value of ``config.LATER_VALUES`` must be good before a command starts (decision 0006)."""
    return [
        checks.Error(message, hint="fix or unset the environment variable", id="cityloop.E001")
        for message in config.check_later_values()
    ]
