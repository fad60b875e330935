"""Settings of a Celery worker started by the broadcast fault tests: the test settings plus
the broadcast knobs from the environment (config/settings.py does not read them yet)."""

from __future__ import annotations

import os

from config.settings_test import *  # noqa: F403

BROADCAST_NUMBER_RATE = float(os.environ.get("BROADCAST_NUMBER_RATE", "80"))
BROADCAST_CHUNK_SIZE = int(os.environ.get("BROADCAST_CHUNK_SIZE", "500"))
BROADCAST_CONCURRENCY = int(os.environ.get("BROADCAST_CONCURRENCY", "64"))
BROADCAST_LEASE_SECONDS = int(os.environ.get("BROADCAST_LEASE_SECONDS", "60"))
BROADCAST_FLUSH_SIZE = int(os.environ.get("BROADCAST_FLUSH_SIZE", "250"))
