"""`make run`: the whole product on one machine, with demo data.

Starts embedded PostgreSQL and Redis when DATABASE_URL/REDIS_URL are unset (data under
./.data), migrates, seeds the demo companies, then runs gunicorn, a Celery worker and
Celery beat as child processes until Ctrl-C or SIGTERM, and stops everything it started.

    python scripts/run.py [--port 8000] [--reload]
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import http.client
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import devservers

ROOT = devservers.ROOT
DATA_DIR = devservers.DATA_DIR
STOP_TIMEOUT_S = 15


def dev_environment(port: int) -> dict[str, str]:
    """Development defaults; anything already set in the environment wins."""
    defaults = {
        "DEBUG": "1",
        "PUBLIC_PORT": str(port),
        "EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "EMAIL_FILE_PATH": str(DATA_DIR / "mail"),
        "CELERY_BEAT_SCHEDULE_FILENAME": str(DATA_DIR / "celerybeat-schedule"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "PYTHONUNBUFFERED": "1",
    }
    return {name: os.environ.get(name, value) for name, value in defaults.items()}


try:
    _LIBC: ctypes.CDLL | None = ctypes.CDLL("libc.so.6", use_errno=True)
except OSError:  # not glibc Linux: children then outlive a killed run script
    _LIBC = None
PR_SET_PDEATHSIG = 1


def say(message: str) -> None:
    """Prints, but never fails: clean-up must go on when the terminal or a pipe is gone."""
    with contextlib.suppress(OSError, ValueError):
        print(message, flush=True)


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM if the run script dies without cleaning up."""
    if _LIBC is not None:
        _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Child:
    """A long-running child process whose output is shown prefixed with its name."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str]) -> None:
        self.name = name
        self.process = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C reaches only this script, which stops children in order
            preexec_fn=_die_with_parent,
            text=True,
            bufsize=1,
        )
        self._pump = threading.Thread(target=self._copy_output, daemon=True)
        self._pump.start()

    def _copy_output(self) -> None:
        for line in self.process.stdout or ():
            with contextlib.suppress(OSError, ValueError):
                sys.stdout.write(f"{self.name:>6} | {line}")
                sys.stdout.flush()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                say(f"[run] {self.name} did not stop in {STOP_TIMEOUT_S}s: killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._pump.join(timeout=2)


def manage(env: dict[str, str], *args: str, capture: bool = False) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        check=False,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    if result.returncode != 0:
        if capture and result.stdout:
            print(result.stdout, end="")
        raise SystemExit(f"[run] manage.py {' '.join(args)} failed with exit code {result.returncode}")
    return result.stdout or ""


def wait_http_ready(port: int, children: list[Child], timeout_s: float = 60.0) -> bool:
    """Waits until the public /healthz answers (any status: the web server is up)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(child.process.poll() is not None for child in children):
            return False
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("GET", "/healthz", headers={"Host": "localhost"})
            conn.getresponse().read()
            return True
        except OSError:
            time.sleep(0.3)
        finally:
            conn.close()
    return False


def banner(port: int, seed_output: str) -> str:
    base = f"http://localhost:{port}"
    lines = [
        "",
        "=" * 78,
        "Kontakt is running. Ctrl-C stops everything.",
        "",
        f"  public site   {base}/",
        f"  signup        {base}/signup/",
        f"  operator      {base}/admin/",
        f"  pizzeria      http://pizzeria.localhost:{port}/   (free plan)",
        f"  airline       http://airline.localhost:{port}/    (enterprise plan)",
        f"  API docs      http://pizzeria.localhost:{port}/api/docs/",
        f"  e-mails       {os.environ.get('EMAIL_FILE_PATH', DATA_DIR / 'mail')} (one file per message)",
        "",
        seed_output.rstrip(),
        "=" * 78,
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--reload", action="store_true", help="restart web workers when code changes")
    args = parser.parse_args()

    started = time.perf_counter()
    os.chdir(ROOT)
    DATA_DIR.mkdir(exist_ok=True)
    os.environ.update(dev_environment(args.port))
    Path(os.environ["EMAIL_FILE_PATH"]).mkdir(parents=True, exist_ok=True)

    stopping = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stopping.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    servers: devservers.DevServers | None = None
    children: list[Child] = []
    exit_code = 0
    try:
        servers = devservers.start(data_dir=DATA_DIR, database="kontakt", redis_db=0)
        env = {**os.environ, **servers.env}
        manage(env, "migrate_schemas", "--shared", "-v", "1")
        manage(env, "migrate_schemas", "--tenant", "-v", "0")
        seed_output = manage(env, "seed_demo", capture=True)

        bin_dir = Path(sys.executable).parent
        gunicorn = [str(bin_dir / "gunicorn"), "config.wsgi", "--bind", f"0.0.0.0:{args.port}", "--workers", "2"]
        # --timeout 300: large CSV audience uploads are imported in their request (see Dockerfile).
        gunicorn += ["--timeout", "300", "--graceful-timeout", "5", "--access-logfile", "-"]
        if args.reload:
            gunicorn.append("--reload")
        celery = str(bin_dir / "celery")
        children.append(Child("web", gunicorn, env))
        # One worker for both queues here; production runs them apart (docs/broadcasts.md).
        children.append(
            Child("worker", [celery, "-A", "config", "worker", "-l", "info", "-Q", "celery,broadcasts"], env)
        )
        beat_schedule = os.environ["CELERY_BEAT_SCHEDULE_FILENAME"]
        children.append(Child("beat", [celery, "-A", "config", "beat", "-l", "info", "--schedule", beat_schedule], env))

        if not wait_http_ready(args.port, children):
            say(f"[run] the web server did not come up on port {args.port} (is another server using it?)")
            exit_code = 1
        else:
            print(banner(args.port, seed_output), flush=True)
            print(f"[run] ready in {time.perf_counter() - started:.1f}s", flush=True)
            while not stopping.is_set():
                dead = [child for child in children if child.process.poll() is not None]
                if dead:
                    say(f"[run] {dead[0].name} exited with code {dead[0].process.returncode}: stopping")
                    exit_code = 1
                    break
                time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        # A second Ctrl-C must not cut the clean-up short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            if children:
                say("\n[run] stopping web, beat, then worker …")
            # The worker goes last: it may still be finishing a task the others enqueued.
            for child in sorted(children, key=lambda c: c.name == "worker"):
                child.stop()
        finally:
            if servers is not None:
                servers.stop()
        say(f"[run] stopped; data kept in {DATA_DIR} (make clean-data deletes it)")
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
