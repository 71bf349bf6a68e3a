"""``cityloop --help`` lists every CityLoop command and every subcommand, read from their own parsers."""

from __future__ import annotations

import argparse

from django.core.management import get_commands, load_command_class

from cityloop.cli.main import COMMANDS
from cityloop.cli.main import main as cityloop_main


def _cityloop_commands() -> dict[str, list[str]]:
    """Each of CityLoop's management commands with its subcommand names (empty when it has none)."""
    found = {}
    for name, app in get_commands().items():
        if not app.startswith("cityloop"):
            continue
        parser = load_command_class(app, name).create_parser("cityloop", name)
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        found[name] = [choice for action in subs for choice in action.choices]
    return found


def test_help_lists_every_command_and_subcommand_including_services_brain_and_hotline_import(capsys):
    assert cityloop_main(["--help"]) == 0
    overview = capsys.readouterr().out
    listed: dict[str, set[str]] = {}
    for usage, _ in COMMANDS:
        for alternative in usage.split(" | "):
            words = alternative.split()
            listed.setdefault(words[0], set()).update(part for word in words[1:2] for part in word.split("|"))
    missing = [
        f"{name} {sub}".strip()
        for name, subs in _cityloop_commands().items()
        for sub in (subs or [""])
        if name not in listed or (sub and sub not in listed[name])
    ]
    assert not missing, f"cityloop --help does not list: {missing}"
    for usage in ("services lint", "brain worker", "hotline import --csv CSV"):
        assert usage in overview
