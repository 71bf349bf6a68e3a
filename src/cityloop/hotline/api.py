"""The hotline's API router (``/api/v1/requests``, dispatch, orders), mounted by ``cityloop.openapi.api``."""

from cityloop.hotline.intake.api import router

__all__ = ["router"]
