"""A stand-in for the provider's HTTP API: a real server on 127.0.0.1 in a thread.

It answers the Cloud API routes the adapter uses (send, media upload, media lookup and
download), records every request, and plays scripted answers for sends: a JSON reply
with any status, a hang (longer than the client's timeout) or a dropped connection.

    with ProviderStub.running() as stub:
        settings.WHATSAPP_API_BASE = stub.base_url
        stub.script_sends(Reply(429, {...}), Reply(200, ...))
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class Hang:
    """Reads the request, then waits this long before answering (past the client's timeout)."""

    seconds: float


@dataclass(frozen=True)
class Drop:
    """Reads the request, then closes the connection without answering."""


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class StubMedia:
    content: bytes
    mime_type: str
    announced_size: int | None = None  # None: the lookup omits file_size


def error_body(code: int, message: str = "", details: str = "") -> dict[str, Any]:
    """The Cloud API's error envelope (whatsapp-platform.md §2.5)."""
    return {
        "error": {
            "message": message or f"({code}) error",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": details or message},
            "fbtrace_id": "AbCdEf",
        }
    }


@dataclass
class ProviderStub:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    media: dict[str, StubMedia] = field(default_factory=dict)
    _sends: deque[Reply | Hang | Drop] = field(default_factory=deque)
    _counter: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def script_sends(self, *answers: Reply | Hang | Drop) -> None:
        """Answers for the next sends, in order; afterwards every send is accepted."""
        self._sends.extend(answers)

    def sends(self) -> list[Recorded]:
        return [r for r in self.requests if r.method == "POST" and r.path.endswith("/messages")]

    def _next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}{self._counter:06d}"

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        path = handler.path
        self.requests.append(Recorded(handler.command, path, dict(handler.headers.items()), body))
        parts = [p for p in path.split("?", 1)[0].split("/") if p]
        if handler.command == "POST" and parts[-1:] == ["messages"]:
            answer = self._sends.popleft() if self._sends else None
            if isinstance(answer, Drop):
                handler.close_connection = True
                return
            if isinstance(answer, Hang):
                time.sleep(answer.seconds)
                answer = None
            if isinstance(answer, Reply):
                self._reply(handler, answer.status, answer.body or {})
                return
            to = json.loads(body).get("to", "")
            self._reply(
                handler,
                200,
                {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": to, "wa_id": to.lstrip("+")}],
                    "messages": [{"id": self._next_id("wamid.STUB")}],
                },
            )
        elif handler.command == "POST" and parts[-1:] == ["media"]:
            self._reply(handler, 200, {"id": self._next_id("upload-")})
        elif handler.command == "GET" and parts[:1] == ["files"] and parts[-1] in self.media:
            media = self.media[parts[-1]]
            self._reply_bytes(handler, 200, media.content, media.mime_type)
        elif handler.command == "GET" and len(parts) == 2 and parts[1] in self.media:
            media = self.media[parts[1]]
            info: dict[str, Any] = {"url": f"{self.base_url}/files/{parts[1]}", "mime_type": media.mime_type,
                                    "id": parts[1], "messaging_product": "whatsapp"}  # fmt: skip
            if media.announced_size is not None:
                info["file_size"] = media.announced_size
            self._reply(handler, 200, info)
        else:
            self._reply(handler, 404, error_body(100, "Unknown path"))

    @staticmethod
    def _reply(handler: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        ProviderStub._reply_bytes(handler, status, json.dumps(body).encode(), "application/json")

    @staticmethod
    def _reply_bytes(handler: BaseHTTPRequestHandler, status: int, content: bytes, content_type: str) -> None:
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(content)))
            handler.end_headers()
            handler.wfile.write(content)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout tests)

    @classmethod
    @contextmanager
    def running(cls) -> Iterator[ProviderStub]:
        stub = cls()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                stub.handle(self)

            def do_POST(self) -> None:
                stub.handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer((stub.host, 0), Handler)
        server.daemon_threads = True
        server.block_on_close = False
        stub.port = server.server_address[1]
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield stub
        finally:
            server.shutdown()
            server.server_close()
