"""A Mosquitto of our own, run with the repository's configuration (``deploy/mosquitto/cityloop.conf``).

The tests, ``make bench-brain`` and ``cityloop brain broker`` start Mosquitto with the file a city
installs, so what they prove is what the city runs.  Only what must differ on one machine is
rewritten: the listener (loopback, a free port, no TLS), the paths of the password file, the ACL and
the persistence folder (a work folder), the log (a file there), and the topic prefix in the ACL.
Accounts are made with ``mosquitto_passwd``.  Each run gets its own broker and its own prefix, so two
runs on one machine never see each other's readings.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from cityloop.core.net import free_port, wait_listening

REPLACED = ("listener", "certfile", "keyfile", "cafile", "password_file", "acl_file", "persistence_location")
WORKER_USER = "cityloop-worker"


class BrokerError(RuntimeError):
    pass


def deploy_dir() -> Path:
    """``deploy/mosquitto`` of the source tree (``CITYLOOP_MOSQUITTO_CONF_DIR`` overrides it)."""
    override = os.environ.get("CITYLOOP_MOSQUITTO_CONF_DIR")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[4] / "deploy" / "mosquitto"


def available() -> str | None:
    """Why a broker cannot be started here, or None when it can."""
    try:
        for binary in ("mosquitto", "mosquitto_passwd"):
            _which(binary)
    except BrokerError as exc:
        return str(exc)
    if not (deploy_dir() / "cityloop.conf").is_file():
        return f"{deploy_dir() / 'cityloop.conf'} is missing"
    return None


def _which(binary: str) -> str:
    found = shutil.which(binary, path=os.environ.get("PATH", "") + ":/usr/sbin:/usr/local/sbin")
    if not found:
        raise BrokerError(f"{binary} is not installed (Debian/Ubuntu: apt install mosquitto)")
    return found


def publisher_acl(user: str, prefix: str) -> list[str]:
    """ACL lines for an account that may publish every device's readings and every gateway's batches
    (a simulator or a benchmark's publisher; a city gives each device and gateway its own)."""
    return [f"user {user}", f"topic write {prefix}/devices/#", f"topic write {prefix}/gateways/#"]


def render(
    workdir: Path,
    *,
    port: int,
    prefix: str = "cityloop",
    accounts: dict[str, str] | None = None,
    publisher: str | None = None,
) -> Path:
    """Write ``workdir/mosquitto.conf`` (+ ACL, password file) from the deploy files; returns its path."""
    workdir.mkdir(parents=True, exist_ok=True)
    source = deploy_dir()
    kept = [
        line
        for line in (source / "cityloop.conf").read_text(encoding="utf-8").splitlines()
        if line.split(" ", 1)[0] not in REPLACED
    ]
    acl = (source / "cityloop.acl").read_text(encoding="utf-8")
    acl = acl.replace(" cityloop/", f" {prefix}/")
    if publisher:
        acl += "\n" + "\n".join(publisher_acl(publisher, prefix)) + "\n"
    (workdir / "cityloop.acl").write_text(acl, encoding="utf-8")
    passwd = workdir / "cityloop.passwd"
    passwd.write_text("", encoding="utf-8")
    for user, password in (accounts or {}).items():
        subprocess.run(  # noqa: S603 (our own arguments)
            [_which("mosquitto_passwd"), "-b", str(passwd), user, password],
            check=True,
            capture_output=True,
        )
    (workdir / "data").mkdir(exist_ok=True)
    lines = [
        *kept,
        "",
        "# --- rewritten for a broker on this machine (cityloop.brain.ingest.broker) ---",
        f"listener {port} 127.0.0.1",
        f"password_file {passwd}",
        f"acl_file {workdir / 'cityloop.acl'}",
        f"persistence_location {workdir / 'data'}/",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
    ]
    if os.geteuid() == 0:
        lines.append(
            "user root"
        )  # as root, Mosquitto would switch to a `mosquitto` user that cannot read the work folder
    conf = workdir / "mosquitto.conf"
    conf.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return conf


@dataclass
class Broker:
    """A running Mosquitto; ``stop()`` ends it (also on ``with``)."""

    workdir: Path
    port: int
    prefix: str
    accounts: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def env(self, user: str = WORKER_USER) -> dict[str, str]:
        """The environment a CityLoop process needs to use this broker as ``user``."""
        return {
            "CITYLOOP_MQTT": self.address,
            "CITYLOOP_MQTT_PREFIX": self.prefix,
            "CITYLOOP_MQTT_USERNAME": user,
            "CITYLOOP_MQTT_PASSWORD": self.accounts[user],
        }

    def log(self) -> str:
        path = self.workdir / "mosquitto.log"
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start(
    workdir: Path,
    *,
    prefix: str = "cityloop",
    accounts: dict[str, str] | None = None,
    publisher: str | None = None,
    port: int | None = None,
) -> Broker:
    """Render the configuration and start Mosquitto with it; returns once it accepts connections."""
    port = port or free_port()
    accounts = dict(accounts or {})
    conf = render(workdir, port=port, prefix=prefix, accounts=accounts, publisher=publisher)
    log = open(workdir / "mosquitto.log", "ab")  # noqa: SIM115 (the broker writes it for its whole life)
    process = subprocess.Popen(  # noqa: S603 (our own arguments)
        [_which("mosquitto"), "-c", str(conf)], stdout=log, stderr=log, start_new_session=True
    )
    log.close()
    broker = Broker(workdir, port, prefix, accounts, process)
    if wait_listening("127.0.0.1", port, timeout=10, process=process):
        return broker
    if process.poll() is not None:
        raise BrokerError(f"mosquitto exited with {process.returncode}: {broker.log()[-2000:]}")
    broker.stop()
    raise BrokerError(f"mosquitto did not listen on port {port} within 10 s: {broker.log()[-2000:]}")
