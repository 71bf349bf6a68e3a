"""The hotline's public pages count guesses and floods with the shared counters of ``core.throttle``."""

from cityloop.core.throttle import client_address, count, exceeded, keys_for

__all__ = ["client_address", "count", "exceeded", "keys_for"]
