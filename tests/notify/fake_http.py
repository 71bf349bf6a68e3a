"""A local HTTP server standing in for a provider: it records every request and answers through a
function the test gives it (which checks the request the way the provider does)."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Seen:
    method: str
    path: str
    raw_query: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes


@dataclass
class Provider:
    """What the fake provider knows and does: ``mode`` is "ok", "500", "throttle", "invalid" or "slow"."""

    respond: Callable[[Provider, Seen], tuple[int, bytes]]
    mode: str = "ok"
    slow_s: float = 2.0
    requests: list[Seen] = field(default_factory=list)
    state: dict = field(default_factory=dict)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _handler(provider: Provider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            seen = Seen(
                method=self.command,
                path=parts.path,
                raw_query=parts.query,
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            provider.requests.append(seen)
            if provider.mode == "slow":
                threading.Event().wait(provider.slow_s)
            status, answer = provider.respond(provider, seen)
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json;charset=utf-8")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)
            except OSError:
                pass  # the client gave up (the timeout test)

        do_GET = do_POST = _serve

        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            return None

    return Handler


@contextlib.contextmanager
def serve(respond: Callable[[Provider, Seen], tuple[int, bytes]]) -> Iterator[Provider]:
    provider = Provider(respond=respond)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(provider))
    server.daemon_threads = True
    provider.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def closed_port() -> int:
    """A port on 127.0.0.1 where nothing listens (connecting is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
