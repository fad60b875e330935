"""The inbox API tests' key fixtures, shared here (a conftest is per directory)."""

from __future__ import annotations

from inbox.tests.conftest import alice_key, alice_other_key, api_client, charlie_key

__all__ = ["alice_key", "alice_other_key", "api_client", "charlie_key"]
