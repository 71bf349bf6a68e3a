"""The README's Open311 examples, run as written against a database loaded like `make demo` (Beijing)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.test import Client

from cityloop.core.actors import SYSTEM
from tests.open311.conftest import parse

README = Path(__file__).resolve().parents[2] / "README.md"


def _commands() -> list[list[str]]:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Open311 GeoReport v2") :]
    section = section[: section.index("\n## ", 5)]
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", section, flags=re.S):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("curl "):
                commands.append(shlex.split(line))
    return commands


@pytest.fixture
def beijing(db, settings, tmp_path):
    from cityloop.org import actions, demo, packs

    settings.OPEN311 = {}  # the built-in pack's own open311.yaml, as in the demo
    settings.DATA_DIR = tmp_path  # where the demo keeps its Open311 key
    actions.import_pack(packs.load_pack("beijing"), actor=SYSTEM)
    key, _path = demo.open311_key()
    return key


def test_the_readmes_open311_examples_work_against_the_demo_city(beijing):
    client, answers = Client(), {}
    commands = _commands()
    assert len(commands) >= 10
    for argv in commands:
        method = argv[argv.index("-X") + 1] if "-X" in argv else "GET"
        url = next(a for a in argv[1:] if a.startswith("$BASE"))
        data = [argv[i + 1] for i, a in enumerate(argv) if a == "--data-urlencode"]
        values = {
            "$BASE": "/open311/v2",
            "$KEY": beijing,
            "ID": answers.get("ID", "ID"),
            "TOKEN": answers.get("TOKEN", "TOKEN"),
        }
        for name, value in values.items():
            url = url.replace(name, value)
            data = [
                d.replace(name, value) if d.startswith(("api_key=", "service_request_id=")) else d
                for d in data
            ]
        if method == "POST":
            body = {}
            for pair in data:
                name, _, value = pair.partition("=")
                body.setdefault(name, []).append(value)
            answer = client.post(url, body)
        else:
            parts = urlsplit(url)
            answer = client.get(parts.path + (f"?{parts.query}" if parts.query else ""))
        assert answer.status_code == 200, (argv, answer.content[:500])
        result = parse(answer)
        if method == "POST" and url.endswith("/requests.json"):
            first = result[0]
            if "token" in first:
                answers["TOKEN"] = first["token"]
            else:
                answers.setdefault("ID", first["service_request_id"])
    assert "ID" in answers and "TOKEN" in answers
