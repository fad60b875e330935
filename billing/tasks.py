from __future__ import annotations

from celery import shared_task

from billing import services


@shared_task(ignore_result=True)
def invoices_issue_task() -> int:
    """Beat (public schema; billing is shared): last month's invoice of every live company.

    Hourly, not only on the 1st: a run missed while beat was down catches up, and a repeat
    issues nothing new (one invoice per company and period).
    """
    return services.invoices_issue_all()
