"""Domain exceptions of the inbox; their messages are shown to people as they are.

The API maps them to its error codes (API.md): WindowClosedError → 409 `window_closed`,
the others → 409 `conflict` or 400 `invalid` as the endpoint documents.
"""

from __future__ import annotations


class InboxError(Exception):
    """Base class: `message` is the human text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class WindowClosedError(InboxError):
    """A free-form message outside the 24-hour customer-service window."""


class TemplateNotApprovedError(InboxError):
    """The template does not exist in that language or is not approved."""


class ContactOptedOutError(InboxError):
    """The contact opted out of business-initiated (or, for marketing templates, marketing) messages."""


class NoPhoneNumberError(InboxError):
    """The company has no connected number to send from."""


class MessageNotRetryableError(InboxError):
    """The message cannot be sent again: not a failed outbound one, retried already, or too soon."""
