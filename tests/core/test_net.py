"""cityloop.core.net: a free port, and waiting until a server listens on one (the demo starts the mail
delivery worker only once its mail catcher listens; the test broker returns only once Mosquitto does)."""

from __future__ import annotations

import socket
import subprocess
import sys

from cityloop.core.net import free_port, wait_listening


def test_waits_for_a_listener_and_gives_up_when_there_is_none():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        assert wait_listening("127.0.0.1", server.getsockname()[1], timeout=2)
    assert not wait_listening("127.0.0.1", free_port(), timeout=0.3)


def test_stops_waiting_as_soon_as_the_server_process_has_exited():
    process = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])  # noqa: S603
    process.wait()
    assert not wait_listening("127.0.0.1", free_port(), timeout=60, process=process)  # at once, not in 60 s
