"""The rehearsal's reverse proxy: deploy/nginx/cityloop.conf's upstream rules in a small asyncio server.

    python tools/rehearsal/proxy.py --listen 0.0.0.0:80 --backend 10.0.0.11:8000 --backend 10.0.0.12:8000

nginx is not installed on the project's machine, so this stands in for it with the same behaviour:
round robin over the web nodes; a node that refuses or drops a connection is left out for
``--fail-timeout`` seconds (nginx's ``max_fails``/``fail_timeout``); ``proxy_next_upstream error timeout
http_502 http_503``: a request the node could not take (connection refused, or a 502/503) goes to the
next node, and one the node took but never answered goes to the next node only when it is idempotent
(GET, HEAD), as nginx does: a POST the client retries itself (with its Idempotency-Key). One request per
client connection (``Connection: close``); the body is read whole (``Content-Length``), as nginx buffers.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import sys
import time

IDEMPOTENT = {b"GET", b"HEAD", b"OPTIONS"}
HOP = {b"connection", b"keep-alive", b"proxy-connection", b"te", b"trailer", b"upgrade"}


class Upstreams:
    def __init__(self, backends: list[tuple[str, int]], fail_timeout: float):
        self.backends = backends
        self.down_until = dict.fromkeys(backends, 0.0)
        self.fail_timeout = fail_timeout
        self.turn = itertools.cycle(range(len(backends)))

    def order(self) -> list[tuple[str, int]]:
        """Every node once, starting with the next in turn; nodes marked down last."""
        start = next(self.turn)
        ring = self.backends[start:] + self.backends[:start]
        now = time.monotonic()
        return [b for b in ring if self.down_until[b] <= now] + [b for b in ring if self.down_until[b] > now]

    def failed(self, backend: tuple[str, int]) -> None:
        self.down_until[backend] = time.monotonic() + self.fail_timeout


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, list[tuple[bytes, bytes]], bytes] | None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
        return None
    lines = head[:-4].split(b"\r\n")
    headers = []
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers.append((name.strip(), value.strip()))
    length = next((int(v) for n, v in headers if n.lower() == b"content-length"), 0)
    body = await reader.readexactly(length) if length else b""
    return lines[0], headers, body


async def forward(backend, request: bytes, timeout: float) -> bytes:
    """The node's whole response; raises ConnectionRefusedError/OSError before sending, EOFError after."""
    host, port = backend
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout=2)
    try:
        writer.write(request)
        await writer.drain()
        try:
            response = await asyncio.wait_for(reader.read(-1), timeout=timeout)
        except (ConnectionError, TimeoutError) as exc:
            raise EOFError(str(exc)) from exc
        if not response:
            raise EOFError("the node closed the connection without answering")
        return response
    finally:
        writer.close()


def status_of(response: bytes) -> int:
    try:
        return int(response.split(b" ", 2)[1])
    except (IndexError, ValueError):
        return 0


async def handle(reader, writer, upstreams: Upstreams, timeout: float) -> None:
    try:
        got = await read_request(reader)
        if got is None:
            return
        line, headers, body = got
        method = line.split(b" ", 1)[0]
        client = (writer.get_extra_info("peername") or ("-",))[0].encode()
        kept = [(n, v) for n, v in headers if n.lower() not in HOP and n.lower() != b"x-forwarded-for"]
        kept += [(b"X-Forwarded-For", client), (b"Connection", b"close")]
        request = line + b"\r\n" + b"".join(n + b": " + v + b"\r\n" for n, v in kept) + b"\r\n" + body
        response = b""
        for backend in upstreams.order():
            try:
                response = await forward(backend, request, timeout)
            except EOFError:
                upstreams.failed(backend)
                if method in IDEMPOTENT:
                    continue
                response = b""
                break
            except (OSError, TimeoutError):  # refused, unreachable, connect timeout: never sent
                upstreams.failed(backend)
                continue
            if status_of(response) in (502, 503):
                upstreams.failed(backend)
                continue
            break
        if not response:
            text = b"no web node answered\n"
            response = (
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: "
                + str(len(text)).encode()
                + b"\r\nConnection: close\r\n\r\n"
                + text
            )
        writer.write(response)
        await writer.drain()
    except (ConnectionError, asyncio.IncompleteReadError):
        pass
    finally:
        writer.close()


def address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


async def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", type=address, required=True)
    ap.add_argument("--backend", type=address, action="append", required=True)
    ap.add_argument("--fail-timeout", type=float, default=5.0)
    ap.add_argument("--read-timeout", type=float, default=60.0)
    args = ap.parse_args(argv)
    upstreams = Upstreams(args.backend, args.fail_timeout)
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, upstreams, args.read_timeout), *args.listen, backlog=1024
    )
    print(f"proxy on {args.listen[0]}:{args.listen[1]} to {args.backend}", flush=True)
    async with server:
        await server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
