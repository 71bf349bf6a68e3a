"""A small network of hosts on one Linux machine: one network namespace per host, each with its own
address on one bridge, the machine itself at ``.1`` of the same subnet (root only).

Every name starts with the run's prefix (``rl<4 hex>``), so two runs never collide and
:meth:`Network.teardown` removes exactly what this run made: its processes (each in its own process
group), its namespaces (their veth ends go with them), its bridge.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path


def sh(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(args, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip() or done.stdout.strip()}")
    return done


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 of 10.213.0.0/16 that no interface of this machine uses (two runs pick different ones)."""
    used = sh("ip", "-o", "-4", "addr", "show").stdout
    for _ in range(200):
        net = ipaddress.ip_network(f"10.213.{secrets.randbelow(250) + 1}.0/24")
        if f" {net.network_address + 1}/" not in used and str(net.network_address)[:-1] not in used:
            return net
    raise RuntimeError("no free /24 in 10.213.0.0/16 for the rehearsal's bridge")


@dataclass
class Host:
    name: str  # short: db, web1, ...
    ns: str
    ip: str
    veth: str  # its cable's end on the bridge


@dataclass
class Proc:
    host: Host
    what: str
    popen: subprocess.Popen
    log: Path


@dataclass
class Network:
    run_id: str = field(default_factory=lambda: secrets.token_hex(2))
    hosts: dict[str, Host] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    subnet: ipaddress.IPv4Network | None = None

    @property
    def prefix(self) -> str:
        return f"rl{self.run_id}"

    @property
    def bridge(self) -> str:
        return f"{self.prefix}br"

    @property
    def gateway(self) -> str:
        """The machine's own address on the bridge (where the load generators run)."""
        assert self.subnet is not None
        return str(self.subnet.network_address + 1)

    def up(self) -> None:
        self.subnet = free_subnet()
        sh("ip", "link", "add", self.bridge, "type", "bridge")
        sh("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        sh("ip", "link", "set", self.bridge, "up")

    def add_host(self, name: str, last_octet: int) -> Host:
        assert self.subnet is not None
        ns, ip = f"{self.prefix}-{name}", str(self.subnet.network_address + last_octet)
        outside, inside = f"{self.prefix}h{last_octet}", f"{self.prefix}n{last_octet}"
        self.hosts[name] = host = Host(name, ns, ip, outside)
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
        sh("ip", "link", "set", outside, "master", self.bridge)
        sh("ip", "link", "set", outside, "up")
        sh("ip", "link", "set", inside, "netns", ns)
        sh("ip", "-n", ns, "link", "set", inside, "name", "eth0")
        sh("ip", "-n", ns, "addr", "add", f"{ip}/24", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        return host

    def start(self, host: Host, what: str, cmd: list[str], *, env: dict, log: Path, user: str = "") -> Proc:
        """``cmd`` inside the host's namespace, in a process group of its own (killed whole)."""
        prefix = ["ip", "netns", "exec", host.ns]
        if user:
            prefix += ["runuser", "-u", user, "--"]
        with open(log, "ab") as out:
            popen = subprocess.Popen(
                prefix + cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        proc = Proc(host, what, popen, log)
        self.procs.append(proc)
        return proc

    def kill(self, proc: Proc, sig: int = signal.SIGKILL) -> None:
        """The whole process group: SIGKILL is the machine losing power, for that service."""
        try:
            os.killpg(proc.popen.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.popen.pid, signal.SIGKILL)
            proc.popen.wait(timeout=10)

    def teardown(self) -> list[str]:
        """Everything this run made, even half-made; returns what could not be removed."""
        left = []
        for proc in reversed(self.procs):
            if proc.popen.poll() is None:
                try:
                    os.killpg(proc.popen.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        deadline = time.monotonic() + 3  # a throw-away network: no need to wait for graceful stops
        for proc in reversed(self.procs):
            try:
                proc.popen.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.popen.pid, signal.SIGKILL)
                    proc.popen.wait(timeout=5)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    left.append(f"process {proc.popen.pid} ({proc.what})")
        for host in self.hosts.values():
            # anything still inside the namespace (a daemon that left its group) goes with it
            pids = sh("ip", "netns", "pids", host.ns, check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
            sh("ip", "link", "del", host.veth, check=False)
            if sh("ip", "netns", "del", host.ns, check=False).returncode != 0:
                left.append(f"namespace {host.ns}")
        if sh("ip", "link", "show", self.bridge, check=False).returncode == 0:
            if sh("ip", "link", "del", self.bridge, check=False).returncode != 0:
                left.append(f"bridge {self.bridge}")
        return left


def leftovers(prefix: str = "rl") -> list[str]:
    """Namespaces and links of any rehearsal run still on this machine (for the check after teardown)."""
    names = sh("ip", "netns", "list", check=False).stdout.split()
    links = sh("ip", "-o", "link", "show", check=False).stdout.splitlines()
    found = [n for n in names if n.startswith(prefix) and "-" in n]
    found += [
        ln.split(":")[1].strip().split("@")[0] for ln in links if ln.split(":")[1].strip().startswith(prefix)
    ]
    return found
