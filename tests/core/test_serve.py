"""``cityloop serve`` as an operator starts it: gunicorn, WhiteNoise, collected static files.

The other tests serve static files from the app folders (finders), so only a real production server
on a new data directory shows whether the first start serves styles.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from cityloop.core.net import free_port
from tests.clients import get_when_up
from tests.clock import pinned_command, pinned_env


def test_the_first_start_on_an_empty_data_dir_serves_stylesheets(tmp_path: Path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("CITYLOOP_") and k != "DJANGO_SETTINGS_MODULE"
    }
    # production settings: manifest storage, no finders (tests/_clock_run.py imports pytest via time-machine)
    env.update(CITYLOOP_DATA_DIR=str(data_dir), CITYLOOP_TESTING="0")
    server = subprocess.Popen(
        pinned_command("cityloop.cli.main", "serve", "--port", str(port), "--workers", "1", "--threads", "2"),
        env=pinned_env(env),
        cwd=data_dir,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status, content_type, body = get_when_up(f"http://127.0.0.1:{port}/static/web/cityloop.css")
        assert (status, content_type.split(";")[0]) == (200, "text/css"), body[:200]
        assert (
            body
            == (Path(__file__).resolve().parents[2] / "src/cityloop/web/static/web/cityloop.css").read_bytes()
        )

        # The hashed name the pages link to (the manifest collectstatic wrote) is served too.
        manifest = json.loads((data_dir / "static" / "staticfiles.json").read_text(encoding="utf-8"))
        hashed = manifest["paths"]["web/cityloop.css"]
        status, content_type, _ = get_when_up(f"http://127.0.0.1:{port}/static/{hashed}")
        assert (status, content_type.split(";")[0]) == (200, "text/css")
    finally:
        server.terminate()
        try:
            server.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
