"""deploy/: the unit files run real commands, the templates name documented variables, and the
dashboard and alerts ask for metrics /metrics really exports."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.core.management import get_commands, load_command_class

from cityloop.brain.ingest import bus
from cityloop.core.config import ConfigError
from cityloop.web import metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
README = (DEPLOY.parent / "README.md").read_text(encoding="utf-8")


def exec_starts():
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        for line in unit.read_text().splitlines():
            if line.startswith("ExecStart="):
                yield unit.name, shlex.split(line.removeprefix("ExecStart=").replace("%i", "0"))


@pytest.mark.parametrize(("unit", "argv"), list(exec_starts()), ids=lambda v: v if isinstance(v, str) else "")
def test_every_unit_runs_a_cityloop_command_with_options_it_accepts(unit, argv):
    assert argv[0].endswith("/bin/cityloop"), unit
    name, args = argv[1], argv[2:]
    commands = get_commands()
    assert name in commands, f"{unit}: no command {name!r}"
    command = load_command_class(commands[name], name)
    command.create_parser("cityloop", name).parse_args(args)  # raises CommandError on an unknown option


def test_every_unit_file_has_a_matching_install_or_timer():
    services = {p.stem for p in (DEPLOY / "systemd").glob("*.service")}
    timers = {p.stem for p in (DEPLOY / "systemd").glob("*.timer")}
    for name in services:
        text = (DEPLOY / "systemd" / f"{name}.service").read_text()
        assert "[Install]" in text or name in timers, f"{name}.service is neither enabled nor timed"
    assert timers <= services


def test_the_environment_template_names_only_documented_variables():
    names = re.findall(r"^([A-Z_]+)=", (DEPLOY / "cityloop.env.example").read_text(), flags=re.M)
    assert names
    for name in names:
        assert f"`{name.removesuffix('_FILE')}`" in README, f"{name} is not in README's configuration table"


def _exported(client) -> set[str]:
    client.get("/healthz")  # the latency histogram exists once a request was timed
    text = client.get("/metrics").content.decode()
    return set(re.findall(r"^# TYPE (\S+) ", text, flags=re.M))


def _asked_for(text: str) -> set[str]:
    return {re.sub(r"_(bucket|count|sum)$", "", m) for m in re.findall(r"\bcityloop_[a-z_]+", text)}


def test_dashboard_and_alerts_ask_only_for_metrics_that_exist(client, db):
    metrics.STATE.forget()
    exported = _exported(client)
    dashboard = json.loads((DEPLOY / "grafana" / "cityloop.json").read_text())
    exprs = " ".join(t["expr"] for panel in dashboard["panels"] for t in panel["targets"])
    rules = yaml.safe_load((DEPLOY / "prometheus" / "alerts.yml").read_text())
    alert_exprs = " ".join(r["expr"] for g in rules["groups"] for r in g["rules"])
    for name in _asked_for(exprs) | _asked_for(alert_exprs):
        assert name in exported, f"{name} is not exported by /metrics"
    documented = (DEPLOY.parent / "docs" / "operations.md").read_text()
    for group in rules["groups"]:
        for rule in group["rules"]:
            assert rule["alert"] in documented, (
                f"alert {rule['alert']} is not explained in docs/operations.md"
            )


def test_the_proxy_replaces_the_forwarded_address_instead_of_appending():
    site = (DEPLOY / "nginx" / "cityloop.conf").read_text()
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in site
    assert "proxy_add_x_forwarded_for" not in site
    assert re.search(r"location = /metrics \{[^}]*return 404;", site)


def test_the_nats_cluster_has_three_nodes_that_route_to_each_other(monkeypatch):
    confs = sorted((DEPLOY / "nats").glob("nats-*.conf"))
    assert len(confs) == 3
    for conf in confs:
        assert set(re.findall(r"nats-route://(nats-\d)\.", conf.read_text())) == {
            "nats-1",
            "nats-2",
            "nats-3",
        }
    monkeypatch.setenv("CITYLOOP_NATS_REPLICAS", "3")
    assert bus.stream_replicas() == 3
    monkeypatch.setenv("CITYLOOP_NATS_REPLICAS", "9")
    with pytest.raises(ConfigError, match="CITYLOOP_NATS_REPLICAS"):
        bus.stream_replicas()
