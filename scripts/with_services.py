"""Runs one command with the development environment (`make shell`, `worker`, `beat`).

Starts embedded PostgreSQL/Redis under ./.data when DATABASE_URL/REDIS_URL are unset
(sharing them with a running `make run`), sets DEBUG=1 and the other development defaults
unless set, runs the command, and stops what it started.

    python scripts/with_services.py COMMAND [ARGS...]
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import devservers
from run import dev_environment


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    os.chdir(devservers.ROOT)
    os.environ.update(dev_environment(int(os.environ.get("PUBLIC_PORT", "8000"))))
    servers = devservers.start(data_dir=devservers.DATA_DIR, database="kontakt", redis_db=0, quiet=True)
    env = {**os.environ, **servers.env}
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        return subprocess.run(argv, env=env, check=False).returncode
    finally:
        servers.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
