"""A real HTTP receiver on 127.0.0.1 for outgoing-webhook tests (stdlib, in a thread).

Answers each POST with the next planned reply (default 200) and keeps what it got, so a
test can check the bytes and headers exactly as an integrator's server sees them.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def header(self, name: str) -> str:
        return self.headers[name.lower()]


@dataclass
class Reply:
    status: int = 200
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.replies: list[Reply] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver._lock:
                    receiver.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                    reply = receiver.replies.pop(0) if receiver.replies else Reply()
                time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks/kontakt"

    def reply_with(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


def signature_verify(*, header: str, body: bytes, secret: str) -> bool:
    """What an integrator writes, from API.md alone: any `v1=` matching HMAC-SHA256 of `t.body`."""
    parts = [part.split("=", 1) for part in header.split(",")]
    timestamp = next(value for key, value in parts if key == "t")
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(key == "v1" and hmac.compare_digest(value, expected) for key, value in parts)


def signatures_in(header: str) -> list[str]:
    return [value for key, value in (part.split("=", 1) for part in header.split(",")) if key == "v1"]


class FakeDns:
    """Stands in for `socket.getaddrinfo`: names in the table resolve to their addresses,
    IP literals and localhost resolve for real, any other name fails (no traffic leaves)."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.lookups: list[str] = []
        self._real = socket.getaddrinfo

    def __call__(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name in self.table:
            self.lookups.append(name)
            return [
                (socket.AF_INET6, socket.SOCK_STREAM, 6, "", (ip, port, 0, 0))
                if ":" in ip
                else (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))
                for ip in self.table[name]
            ]
        try:
            ipaddress.ip_address(name)
        except ValueError:
            if name != "localhost":
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
        return self._real(host, port, *args, **kwargs)


def tasks_enqueued(callbacks: list[Callable[[], Any]]) -> list[tuple[str, tuple[Any, ...]]]:
    """`(task name, args)` of each `delay_on_commit` captured by django_capture_on_commit_callbacks."""
    return [(callback.func.__self__.name, callback.args) for callback in callbacks]  # type: ignore[attr-defined]


def tasks_run(callbacks: list[Callable[[], Any]]) -> None:
    """Runs each captured task in this process, its arguments JSON round-tripped as a worker gets them."""
    for callback in callbacks:
        task = callback.func.__self__  # type: ignore[attr-defined]
        task(*json.loads(json.dumps(callback.args)))  # type: ignore[attr-defined]
