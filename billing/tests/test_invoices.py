"""Invoices: arithmetic, proration, gap-free numbers, immutability, the idempotent beat task, views."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, transaction
from django.test import Client

from billing import services, tasks
from billing.models import Invoice, InvoiceCounter, InvoiceLine, Plan, Subscription, UsageDaily
from billing.selectors import plan_get
from tenants.models import Company

MARCH = (date(2026, 3, 1), date(2026, 3, 31))


def _on_plan(company: Company, plan: Plan, start: datetime, end: datetime | None = None) -> None:
    Subscription.objects.create(company=company, plan=plan, started_at=start, ended_at=end)


def _usage(company: Company, day: date, category: str, count: int, charged: int, amount: str) -> None:
    UsageDaily.objects.create(
        company=company, day=day, category=category, count=count, charged_count=charged, amount=Decimal(amount)
    )


@pytest.fixture
def march_globex(company_b: Company) -> Company:
    """globex: free until 11 March 00:00 UTC, then enterprise; some usage in March and April."""
    free, enterprise = plan_get(code="free"), plan_get(code="enterprise")
    _on_plan(company_b, free, datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 3, 11, tzinfo=UTC))
    _on_plan(company_b, enterprise, datetime(2026, 3, 11, tzinfo=UTC))
    _usage(company_b, date(2026, 3, 12), "marketing", 6, 6, "0.7620")
    _usage(company_b, date(2026, 3, 20), "marketing", 4, 4, "0.5080")
    _usage(company_b, date(2026, 3, 20), "utility", 5, 2, "0.1020")
    _usage(company_b, date(2026, 3, 21), "service", 7, 0, "0")
    _usage(company_b, date(2026, 4, 1), "marketing", 100, 100, "12.7000")  # next period
    return company_b


def test_invoice_arithmetic_with_a_mid_month_upgrade(march_globex: Company) -> None:
    invoice = services.invoice_issue(company=march_globex, start=MARCH[0], end=MARCH[1])
    assert invoice is not None
    lines = [(line.kind, line.category, line.quantity, line.amount) for line in invoice.lines.all()]
    # base fee 499.00 * 21 / 31 days = 338.032… → 338.03; usage summed, then rounded per line
    assert lines == [
        ("base_fee", "", Decimal("21"), Decimal("338.03")),
        ("usage", "marketing", Decimal("10"), Decimal("1.27")),
        ("usage", "utility", Decimal("2"), Decimal("0.10")),
    ]
    assert invoice.total == Decimal("339.40")
    assert invoice.currency == "EUR"
    assert services.invoice_total_check(invoice)
    assert "21 of 31 days" in invoice.lines.get(kind="base_fee").description
    assert "2 charged, 3 free" in invoice.lines.get(category="utility").description


def test_a_full_month_pays_the_whole_base_fee(company_b: Company) -> None:
    _on_plan(company_b, plan_get(code="enterprise"), datetime(2026, 1, 15, tzinfo=UTC))
    invoice = services.invoice_issue(company=company_b, start=MARCH[0], end=MARCH[1])
    assert invoice is not None
    assert invoice.total == Decimal("499.00")


def test_nothing_to_bill_makes_no_invoice(company_a: Company) -> None:
    assert services.invoice_issue(company=company_a, start=MARCH[0], end=MARCH[1]) is None
    assert not Invoice.objects.exists()


def test_numbers_are_sequential_and_a_rollback_leaves_no_gap(march_globex: Company, company_a: Company) -> None:
    start = InvoiceCounter.objects.get(pk=1).last_number
    first = services.invoice_issue(company=march_globex, start=MARCH[0], end=MARCH[1])

    # an issue that rolls back (e.g. the worker fails afterwards) gives its number back
    def issue_then_crash() -> None:
        with transaction.atomic():
            services.invoice_issue(company=march_globex, start=date(2026, 4, 1), end=date(2026, 4, 30))
            raise RuntimeError("crash after issuing")

    with pytest.raises(RuntimeError):
        issue_then_crash()
    second = services.invoice_issue(company=march_globex, start=date(2026, 4, 1), end=date(2026, 4, 30))
    assert first is not None
    assert second is not None
    assert (first.number, second.number) == (start + 1, start + 2)
    assert second.display_number == f"KT-{start + 2:06d}"


def test_issued_invoices_cannot_change(march_globex: Company) -> None:
    invoice = services.invoice_issue(company=march_globex, start=MARCH[0], end=MARCH[1])
    assert invoice is not None
    invoice.total = Decimal("1.00")
    with pytest.raises(ValidationError):
        invoice.save()
    with pytest.raises(ValidationError):
        invoice.delete()
    line = invoice.lines.first()
    assert line is not None
    with pytest.raises(ValidationError):
        line.delete()
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        Invoice.objects.filter(pk=invoice.pk).update(total=Decimal("1.00"))
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        InvoiceLine.objects.filter(invoice=invoice).update(amount=Decimal("0"))
    assert Invoice.objects.get(pk=invoice.pk).total == Decimal("339.40")


def test_the_monthly_task_is_idempotent(march_globex: Company, company_a: Company) -> None:
    # when the beat task runs twice in April (for March)
    first = services.invoices_issue_all(today=date(2026, 4, 1))
    second = services.invoices_issue_all(today=date(2026, 4, 2))
    # then globex has one March invoice and acme (free, no charges) none
    assert (first, second) == (1, 0)
    assert Invoice.objects.filter(company=march_globex, period_start=MARCH[0]).count() == 1
    assert not Invoice.objects.filter(company=company_a).exists()


def test_the_beat_task_runs_the_service(march_globex: Company) -> None:
    # the previous month of the real clock (after March 2026): globex is on enterprise all month
    assert tasks.invoices_issue_task.run() == 1
    assert tasks.invoices_issue_task.run() == 0


# --- pages ----------------------------------------------------------------------------------------


@pytest.fixture
def invoice_b(march_globex: Company) -> Invoice:
    invoice = services.invoice_issue(company=march_globex, start=MARCH[0], end=MARCH[1])
    assert invoice is not None
    return invoice


def test_owner_sees_the_invoice_and_downloads_the_pdf(charlie_client: Client, invoice_b: Invoice) -> None:
    page = charlie_client.get(f"/settings/billing/invoices/{invoice_b.number}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert invoice_b.display_number in html
    assert "339.40 EUR" in html
    assert "338.03" in html
    pdf = charlie_client.get(f"/settings/billing/invoices/{invoice_b.number}.pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert invoice_b.display_number in pdf["Content-Disposition"]
    overview = charlie_client.get("/settings/billing/")
    assert invoice_b.display_number in overview.content.decode()


def test_another_company_gets_404(alice_client: Client, invoice_b: Invoice) -> None:
    assert alice_client.get(f"/settings/billing/invoices/{invoice_b.number}/").status_code == 404
    assert alice_client.get(f"/settings/billing/invoices/{invoice_b.number}.pdf").status_code == 404


def test_agents_cannot_see_billing(bob_client: Client) -> None:
    response = bob_client.get("/settings/billing/")
    assert response.status_code == 403
    assert "owners" in response.content.decode()


def test_operators_see_invoices_and_their_pdf_in_the_admin(invoice_b: Invoice) -> None:
    from tenants.tests.factories import OperatorFactory

    client = Client(HTTP_HOST="localhost")
    client.force_login(OperatorFactory())
    listing = client.get("/admin/billing/invoice/")
    assert listing.status_code == 200
    assert invoice_b.display_number in listing.content.decode()
    detail = client.get(f"/admin/billing/invoice/{invoice_b.pk}/change/")
    assert detail.status_code == 200
    assert "338.03" in detail.content.decode()
    pdf = client.get(f"/admin/billing/invoice/{invoice_b.pk}/pdf/")
    assert pdf.status_code == 200
    assert pdf.content.startswith(b"%PDF")
