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

import numpy as np
import pyarrow as pa

from cityloop.brain.models import Device

ANY = "*"
CACHE_SECONDS = 30.0
_lock = threading.Lock()
_cache: dict = {"at": float("-inf"), "map": {}}
_table: dict = {"at": float("-inf")}


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
        _table.clear()
        _table["at"] = float("-inf")


def _gateway_table() -> dict:
    """Every device code in a hash index, its gateway as a number, and the numbers of the gateways."""
    from cityloop.brain.ingest.codec import DeviceIndex

    now = time.monotonic()
    with _lock:
        if now - _table["at"] < CACHE_SECONDS:
            return dict(_table)
    rows = list(Device.objects.values_list("code", "gateway"))
    number: dict[str, int] = {}
    gateway = np.array([number.setdefault(g or "", len(number)) for _c, g in rows], dtype=np.int64)
    index = DeviceIndex(pa.array([c for c, _g in rows], pa.string()))
    with _lock:
        _table.update(at=now, index=index, gateway=gateway, number=number)
        return dict(_table)


def foreign_rows(gateways: list[str], counts: list[int], codes: pa.Array) -> np.ndarray:
    """Whether each row belongs to another gateway's device: the first ``counts[0]`` rows of ``codes``
    came from ``gateways[0]``, the next ``counts[1]`` from ``gateways[1]``, and so on (one vectorised
    lookup for a whole cycle of gateway batches; unknown codes are the ingest's business)."""
    table = _gateway_table()
    pos = table["index"].lookup(codes)
    if (pos < 0).any():
        forget()  # a device may have been registered or moved since the table was read
        table = _gateway_table()
        pos = table["index"].lookup(codes)
    sender = np.repeat(np.array([table["number"].get(g, -2) for g in gateways], dtype=np.int64), counts)
    trusted = np.repeat(np.array([g == ANY for g in gateways], dtype=bool), counts)
    known = pos >= 0
    owner = np.full(len(pos), -1, dtype=np.int64)
    owner[known] = table["gateway"][pos[known]]
    return known & (owner != sender) & ~trusted


def foreign(gateway: str, codes) -> list[str]:
    """The codes among ``codes`` that ``gateway`` may not write (unknown codes are the ingest's business)."""
    if gateway == ANY:
        return []
    owners = gateway_of()
    if any(code not in owners or owners[code] != gateway for code in codes):
        forget()  # a device may have been registered or moved since the cache was read
        owners = gateway_of()
    return sorted({code for code in codes if code in owners and owners[code] != gateway})
