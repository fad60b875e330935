"""Thin Celery entry points of the accounts app (tenant-schemas-celery carries the schema)."""

from __future__ import annotations

import smtplib

from celery import shared_task

from accounts import services

# A mail server that is down or slow is worth waiting for; anything else is a bug.
TRANSIENT_MAIL_ERRORS = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, TimeoutError)


@shared_task(
    ignore_result=True,
    autoretry_for=TRANSIENT_MAIL_ERRORS,
    retry_backoff=30,
    retry_backoff_max=3600,
    max_retries=8,
)
def invitation_email_send_task(invitation_id: int, language: str | None = None) -> None:
    """E-mails the link of a pending invitation (does nothing once it is not pending)."""
    services.invitation_email_send(invitation_id=invitation_id, language=language)
