"""Real Celery worker processes for tests: started against this session's test database and
queues, waited for until ready, and stopped (process group) at the end."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """DATABASE_URL of the test database pytest-django made (TCP or unix socket)."""
    db = connection.settings_dict
    user = db.get("USER") or "postgres"
    host = db.get("HOST") or ""
    if host.startswith("/"):
        return f"postgres://{user}@/{db['NAME']}?host={host}"
    return f"postgres://{user}@{host or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


def worker_start(
    log_path: Path,
    *,
    name: str = "w1",
    env: dict[str, str] | None = None,
    settings_module: str = "config.settings_test",
) -> subprocess.Popen[bytes]:
    """Starts `celery worker -P solo` on both of this session's queues; returns once it is ready."""
    full_env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "CELERY_BROKER_URL": settings.CELERY_BROKER_URL,
        "KONTAKT_TEST_QUEUE": settings.CELERY_TASK_DEFAULT_QUEUE,
        **(env or {}),
    }
    queues = f"{settings.CELERY_TASK_DEFAULT_QUEUE},{settings.TEST_BROADCAST_QUEUE}"
    with log_path.open("w") as log:
        process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "celery", "-A", "config", "worker", "-P", "solo", "-l", "info",
             "-n", f"{name}@%h", "-Q", queues, "--without-mingle", "--without-gossip"],
            cwd=ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if process.poll() is not None or time.monotonic() > deadline:
            worker_stop(process)
            raise AssertionError("worker did not start:\n" + log_path.read_text())
        time.sleep(0.1)
    return process


def worker_stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the worker's process group, SIGKILL if it has not ended in 20 s."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)


@contextmanager
def mail_worker(tmp_path: Path) -> Iterator[Path]:
    """A `celery worker` (worker_start) whose e-mails land as files; yields their folder."""
    folder = tmp_path / "mail"
    process = worker_start(
        tmp_path / "worker.log",
        env={"TEST_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend", "EMAIL_FILE_PATH": str(folder)},
    )
    try:
        yield folder
    finally:
        worker_stop(process)


def mails_wait(folder: Path, count: int = 1, timeout: float = 30.0) -> list[str]:
    """The e-mails in `folder` once there are `count` (or what is there after `timeout`)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        files = sorted(folder.glob("*.log")) if folder.exists() else []
        if len(files) >= count:
            time.sleep(0.2)  # let the backend finish writing
            return [f.read_text() for f in sorted(folder.glob("*.log"))]
        time.sleep(0.1)
    return [f.read_text() for f in sorted(folder.glob("*.log"))] if folder.exists() else []
