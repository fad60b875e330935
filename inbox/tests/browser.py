"""Browser-test fixtures: a live server thread and headless Chromium (Debian's, via Playwright).

The server thread has its own database connection, so the rows it must see are made in
autocommit (`committed_db`) and deleted by the test afterwards; pytest-django's
`transactional_db` is not used because it flushes the public tables (the session's
companies) at teardown.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.servers.basehttp import ThreadedWSGIServer
from django.db import connection, connections
from django.test.testcases import LiveServerThread

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}


class _JoiningServer(ThreadedWSGIServer):
    # Request threads are joined on close, so each has closed its database connection
    # before the test database is dropped.
    daemon_threads = False
    block_on_close = True


class _LiveServerThread(LiveServerThread):
    server_class = _JoiningServer


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def committed_db(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """Database access in autocommit, so the server thread sees the rows; the test cleans up."""
    with django_db_blocker.unblock():
        connection.set_schema_to_public()
        yield
        connection.set_schema_to_public()


@pytest.fixture
def live_server_url(committed_db: None) -> Iterator[str]:
    """`http://localhost:<port>`: put a company's slug before `localhost` to reach its host."""
    server = _LiveServerThread("127.0.0.1", StaticFilesHandler, port=_free_port())
    server.daemon = True
    server.start()
    server.is_ready.wait()
    if server.error:
        raise server.error
    try:
        yield f"http://localhost:{server.port}"
    finally:
        server.terminate()


@pytest.fixture
def browser(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between browser steps are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
            # ORM calls made while Playwright's loop ran got their own connection (asgiref
            # keys connections by context); close it, or the test database cannot be dropped.
            connections.close_all()
