"""schemathesis against /api/v1/openapi.json with a dispatcher's token, every check, bounded for CI.

`make fuzz` runs the same for much longer (CITYLOOP_FUZZ_EXAMPLES). The fixed seed makes a failure
reproducible with the command printed in the assertion message.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cityloop.core.actors import SYSTEM

pytestmark = [pytest.mark.django_db(transaction=True)]

EXAMPLES = int(os.environ.get("CITYLOOP_FUZZ_EXAMPLES", "12"))
SEED = int(os.environ.get("CITYLOOP_FUZZ_SEED", "20261204"))


def _schemathesis() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail("schemathesis is not installed: `make test` installs the test extra")
    return found


def test_the_api_matches_its_openapi_document_under_schemathesis(
    live_server, city, tiny_places, dispatcher_li, tmp_path
):
    from cityloop.core.actions import create_token
    from cityloop.hotline.actions import Submission, submit_request

    _, token = create_token(
        user=dispatcher_li, name="fuzz", scopes=["hotline", "services", "read"], actor=SYSTEM
    )
    lon, lat = tiny_places["D1S1C1"]
    submit_request(
        Submission(
            description="楼里停水了", caller_phone="13812345678", lon=lon, lat=lat, category_code="02.01.01"
        ),
        city=city,
        channel="phone",
        actor=SYSTEM,
    )
    command = [
        _schemathesis(),
        "run",
        f"{live_server.url}/api/v1/openapi.json",
        "--url",
        live_server.url,
        "-H",
        f"Authorization: Bearer {token}",
        "--checks",
        "all",
        "--max-examples",
        str(EXAMPLES),
        "--seed",
        str(SEED),
        "--generation-deterministic",
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--exclude-path-regex",
        "^/brain/readings$",
        "--report",
        "junit",
        "--report-junit-path",
        str(tmp_path / "junit.xml"),
        "--no-color",
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=900,
        cwd=Path(__file__).parent,
        env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
    )
    start = done.stdout.find("FAILURES")
    summary = done.stdout[start : start + 8000] if start >= 0 else done.stdout[-6000:]
    Path(os.environ.get("CITYLOOP_FUZZ_LOG", "/dev/null")).write_text(
        done.stdout + done.stderr, encoding="utf-8"
    )
    assert done.returncode == 0, (
        f"schemathesis found problems (rerun: {' '.join(command[1:4])} ...):\n{summary}"
    )
