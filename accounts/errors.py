"""Domain exceptions of the accounts app; their messages are shown to people as they are."""

from __future__ import annotations


class InvitationUnusableError(Exception):
    """An invitation link that cannot be used: unknown (`is_unknown`), used, withdrawn or expired."""

    def __init__(self, message: str, *, is_unknown: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.is_unknown = is_unknown
