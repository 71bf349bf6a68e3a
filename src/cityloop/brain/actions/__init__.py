"""Every write of the city brain; other apps and the brain's own doors import from here.

- :mod:`.readings` — decode, ingest and commit readings; the maintenance pass (silent devices,
  verification of waiting cases).
- :mod:`.alarms` — the closed loop: alarms open hotline cases (through ``hotline.actions``), readings
  confirm or reopen them.
- :mod:`.devices` — the device registry (register, import a CSV, switch a device on or off).
- :mod:`.operators` — what the people on duty do: acknowledge an alarm, mute and unmute a device.

The engine (:mod:`cityloop.brain.engine`) writes its own tables (hourly pulse, reject tallies, the
checkpoint row) only inside :func:`commit`, which hands it the closed loop's ``record_alarms``.
"""

from cityloop.brain.actions.alarms import record_alarms, verify
from cityloop.brain.actions.devices import (
    ImportReport,
    import_devices_csv,
    register_device,
    register_devices,
    set_device_active,
)
from cityloop.brain.actions.operators import acknowledge_alarm, is_muted, mute_device, unmute_device
from cityloop.brain.actions.readings import (
    CONTENT_TYPES,
    commit,
    compact_archive,
    decode_payload,
    note_broker_dropped,
    run_maintenance,
    upload_readings,
    verify_cases,
)

__all__ = [
    "acknowledge_alarm",
    "is_muted",
    "mute_device",
    "unmute_device",
    "CONTENT_TYPES",
    "ImportReport",
    "commit",
    "compact_archive",
    "decode_payload",
    "note_broker_dropped",
    "import_devices_csv",
    "record_alarms",
    "register_device",
    "register_devices",
    "run_maintenance",
    "set_device_active",
    "upload_readings",
    "verify",
    "verify_cases",
]
