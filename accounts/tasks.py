"""Thin Celery entry points of the accounts app (tenant-schemas-celery carries the schema)."""

from __future__ import annotations

import smtplib

from celery import shared_task

from accounts import forms, services

# A mail server that is down or slow is worth waiting for; anything else is a bug.
TRANSIENT_MAIL_ERRORS = (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, ConnectionError, TimeoutError)
# Every e-mail task: retried on those 8 times, 30 s doubling up to an hour apart (with jitter:
# at most about two hours in all).
MAIL_TASK = {
    "ignore_result": True,
    "autoretry_for": TRANSIENT_MAIL_ERRORS,
    "retry_backoff": 30,
    "retry_backoff_max": 3600,
    "max_retries": 8,
}


@shared_task(**MAIL_TASK)
def invitation_email_send_task(invitation_id: int, language: str | None = None) -> None:
    """E-mails the link of a pending invitation (does nothing once it is not pending)."""
    services.invitation_email_send(invitation_id=invitation_id, language=language)


@shared_task(**MAIL_TASK)
def password_reset_email_send_task(
    user_id: int, domain: str, site_name: str, use_https: bool, language: str | None = None
) -> None:
    """E-mails a fresh password-reset link to an account that may still reset (the token is made here)."""
    forms.password_reset_email_send(
        user_id=user_id, domain=domain, site_name=site_name, use_https=use_https, language=language
    )
