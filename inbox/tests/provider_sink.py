"""A fast Cloud-API-shaped HTTP sink, run as its own process, that counts sends per recipient.

    python -m inbox.tests.provider_sink [--delay-ms 0]     # prints "port <n>" then serves

`POST /<version>/<phone id>/messages` answers the Cloud API's success body at once (or after
`--delay-ms`) and counts the request under its `to`. Control routes:
- `GET /_stats` → `{"total", "unique", "duplicates", "duplicated": [first 20 recipients sent twice]}`;
- `POST /_throttle?seconds=S` → every send answers 429 / code 130429 for the next S seconds;
- `POST /_reset` → forgets the counts.

A bare asyncio protocol (uvloop when installed): the broadcast tests and bench/broadcast.py
need a sink that costs far less CPU than the sender it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import sys
import time
from collections import Counter
from typing import Any
from urllib.parse import parse_qs, urlsplit

TO_RE = re.compile(rb'"to"\s*:\s*"([^"]*)"')
THROTTLED = json.dumps(
    {
        "error": {
            "message": "(#130429) Rate limit hit",
            "type": "OAuthException",
            "code": 130429,
            "error_data": {
                "messaging_product": "whatsapp",
                "details": "Cloud API message throughput has been reached.",
            },
            "fbtrace_id": "SINK",
        }
    }
).encode()


class SinkState:
    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.counts: Counter[bytes] = Counter()
        self.total = 0
        self.throttled_until = 0.0
        self.next_id = 0
        # Unique across sink processes: wamids are unique in the inbox's database.
        self.prefix = os.urandom(4).hex().encode()

    def stats(self) -> dict[str, Any]:
        duplicated = [to.decode() for to, n in self.counts.items() if n > 1]
        return {
            "total": self.total,
            "unique": len(self.counts),
            "duplicates": sum(n - 1 for n in self.counts.values() if n > 1),
            "duplicated": duplicated[:20],
        }


def _response(status: int, reason: str, body: bytes) -> bytes:
    head = f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class SinkProtocol(asyncio.Protocol):
    def __init__(self, state: SinkState) -> None:
        self.state = state
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            # An answer must not wait for the client's delayed ACK (Nagle).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value.strip())
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            method, _, rest = head.partition(b" ")
            target = rest.split(b" ", 1)[0].decode()
            self._handle(method.decode(), target, body)

    def _send(self, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(payload)

    def _handle(self, method: str, target: str, body: bytes) -> None:
        state = self.state
        path = urlsplit(target).path
        if path.endswith("/messages") and method == "POST":
            if time.monotonic() < state.throttled_until:
                answer = _response(429, "Too Many Requests", THROTTLED)
            else:
                match = TO_RE.search(body)
                to = match.group(1) if match else b""
                state.counts[to] += 1
                state.total += 1
                state.next_id += 1
                answer = _response(
                    200,
                    "OK",
                    b'{"messaging_product":"whatsapp","contacts":[{"input":"%s","wa_id":"%s"}],'
                    b'"messages":[{"id":"wamid.SINK%s.%d"}]}' % (to, to.lstrip(b"+"), state.prefix, state.next_id),
                )
            if state.delay:
                asyncio.get_running_loop().call_later(state.delay, self._send, answer)
            else:
                self._send(answer)
        elif path == "/_stats":
            self._send(_response(200, "OK", json.dumps(state.stats()).encode()))
        elif path == "/_throttle":
            seconds = float(parse_qs(urlsplit(target).query).get("seconds", ["0"])[0])
            state.throttled_until = time.monotonic() + seconds
            self._send(_response(200, "OK", b"{}"))
        elif path == "/_reset":
            state.counts.clear()
            state.total = 0
            self._send(_response(200, "OK", b"{}"))
        else:
            self._send(_response(404, "Not Found", b'{"error":{"code":100,"message":"Unknown path"}}'))


async def serve(port: int, delay: float) -> None:
    state = SinkState(delay)
    server = await asyncio.get_running_loop().create_server(
        lambda: SinkProtocol(state), "127.0.0.1", port, backlog=1024
    )
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)  # noqa: T201 - the parent reads it
    async with server:
        await server.serve_forever()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay-ms", type=float, default=0.0)
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is pinned, but the sink works without it
        asyncio.run(serve(args.port, args.delay_ms / 1000))
    else:
        uvloop.run(serve(args.port, args.delay_ms / 1000))


if __name__ == "__main__":
    main(sys.argv[1:])
