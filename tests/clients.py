"""Clients for tests: a Django test client logged in as a user, and a GET that waits for a server to start."""

from __future__ import annotations

import subprocess
import time
import urllib.error
import urllib.request

from django.conf import settings
from django.test import Client


def client_for(user, language: str | None = None) -> Client:
    client = Client()
    client.force_login(user)
    if language:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def get_when_up(
    url: str, *, server: subprocess.Popen | None = None, wait_s: float = 90
) -> tuple[int, str, bytes]:
    """GET ``url`` from a server that is starting: (status, content type, body), waiting while nothing
    listens yet; fails at once if ``server`` exits first."""
    give_up = time.monotonic() + wait_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 (a local http URL we built)
                return answer.status, answer.headers.get("Content-Type", ""), answer.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read()
        except (ConnectionError, urllib.error.URLError):
            if server is not None and server.poll() is not None:
                output = server.stdout.read() if server.stdout else ""
                raise AssertionError(f"the server exited with {server.returncode}: {output}") from None
            if time.monotonic() > give_up:
                raise
            time.sleep(0.3)
