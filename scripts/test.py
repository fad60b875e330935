"""`make test`: the whole suite, with URL coverage, on embedded or given servers.

When DATABASE_URL/REDIS_URL are unset, starts embedded PostgreSQL and Redis under
./.data/test (apart from `make run`'s data, so both can run at once) and stops them after.
Extra arguments go to pytest; the exit code is pytest's. `--url-coverage` (fail on a URL
no test requested) is always on, except with `--no-url-coverage`, for running a subset.

    python scripts/test.py [--no-url-coverage] [pytest args]
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import devservers


def main(argv: list[str]) -> int:
    os.chdir(devservers.ROOT)
    servers = devservers.start(data_dir=devservers.DATA_DIR / "test", database="kontakt", redis_db=0)
    env = {**os.environ, **servers.env}
    coverage = [] if "--no-url-coverage" in argv else ["--url-coverage"]
    args = [arg for arg in argv if arg != "--no-url-coverage"]
    # Ctrl-C reaches pytest too (same process group); this script waits, then cleans up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        pytest = subprocess.Popen([sys.executable, "-m", "pytest", *coverage, *args], env=env)
        signal.signal(signal.SIGTERM, lambda signum, frame: pytest.terminate())
        return pytest.wait()
    finally:
        servers.stop()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
