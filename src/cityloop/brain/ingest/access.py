"""Who may write which device's readings.

Each device names its gateway (``Device.gateway``, from the device CSV). A brain API token is bound
to one gateway (``cityloop token create ... --scope brain --gateway G``) and may upload readings only
for that gateway's devices; ``--gateway '*'`` is an explicit choice for a trusted city system, and a
token bound to nothing may upload nothing. On MQTT, ``cityloop/gateways/<G>/batch`` may carry only
G's devices, and the broker's ACL (deploy/mosquitto/) lets each gateway publish only under its own
name; on NATS, ``cityloop.readings.gw.<G>`` likewise. A reading for another gateway's device is
refused and counted: on the API the whole upload is refused (403, naming the devices) and audited;
on the buses it is rejected with the reason ``not_bound`` and kept with the rejects.
"""

from __future__ import annotations

import threading
import time

from cityloop.brain.models import Device

ANY = "*"
CACHE_SECONDS = 30.0
_lock = threading.Lock()
_cache: dict = {"at": float("-inf"), "map": {}}


def gateway_of() -> dict[str, str]:
    """{device code: gateway} for every device, re-read at most every CACHE_SECONDS."""
    now = time.monotonic()
    with _lock:
        if now - _cache["at"] < CACHE_SECONDS:
            return _cache["map"]
    found = dict(Device.objects.values_list("code", "gateway"))
    with _lock:
        _cache.update(at=now, map=found)
    return found


def forget() -> None:
    with _lock:
        _cache.update(at=float("-inf"), map={})


def foreign(gateway: str, codes) -> list[str]:
    """The codes among ``codes`` that ``gateway`` may not write (unknown codes are the ingest's business)."""
    if gateway == ANY:
        return []
    owners = gateway_of()
    if any(code not in owners or owners[code] != gateway for code in codes):
        forget()  # a device may have been registered or moved since the cache was read
        owners = gateway_of()
    return sorted({code for code in codes if code in owners and owners[code] != gateway})
