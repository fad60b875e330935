"""An invoice as a PDF (fpdf2), from the issued rows only: the same figures as the HTML view.

The PDF core fonts cover Latin-1; other characters (a company name in another script)
are replaced rather than failing the download. Amounts are written with "EUR", which
Latin-1 has (it has no euro sign).
"""

from __future__ import annotations

from decimal import Decimal

from fpdf import FPDF

from billing.models import Invoice

ISSUER = "Kontakt"


def _text(value: object) -> str:
    return str(value).encode("latin-1", "replace").decode("latin-1")


def _money(value: Decimal | None, currency: str) -> str:
    return "" if value is None else f"{value:,.2f} {currency}"


def invoice_pdf(invoice: Invoice) -> bytes:
    """The PDF bytes of an issued invoice."""
    doc = FPDF(format="A4")
    doc.set_title(_text(f"Invoice {invoice.display_number}"))
    doc.set_author(ISSUER)
    doc.add_page()
    doc.set_font("Helvetica", "B", 18)
    doc.cell(0, 10, _text(f"Invoice {invoice.display_number}"), new_x="LMARGIN", new_y="NEXT")
    doc.set_font("Helvetica", "", 10)
    for line in (
        f"Issued by {ISSUER} on {invoice.issued_at:%Y-%m-%d}",
        f"To: {invoice.company_name} ({invoice.company_slug})",
        f"Period: {invoice.period_start:%Y-%m-%d} to {invoice.period_end:%Y-%m-%d}",
        f"Currency: {invoice.currency}",
    ):
        doc.cell(0, 6, _text(line), new_x="LMARGIN", new_y="NEXT")
    doc.ln(4)
    widths = (100, 25, 30, 35)
    doc.set_font("Helvetica", "B", 10)
    for width, title in zip(widths, ("Description", "Quantity", "Unit price", "Amount"), strict=True):
        doc.cell(width, 8, title, border="B", align="L" if title == "Description" else "R")
    doc.ln()
    doc.set_font("Helvetica", "", 10)
    for line in invoice.lines.all():
        quantity = f"{line.quantity.normalize():f}"
        cells = (
            (line.description, "L"),
            (quantity, "R"),
            (_money(line.unit_price, invoice.currency), "R"),
            (_money(line.amount, invoice.currency), "R"),
        )
        for width, (value, align) in zip(widths, cells, strict=True):
            doc.cell(width, 7, _text(value), align=align)
        doc.ln()
    doc.set_font("Helvetica", "B", 11)
    doc.cell(sum(widths[:3]), 9, "Total", border="T")
    doc.cell(widths[3], 9, _text(_money(invoice.total, invoice.currency)), border="T", align="R")
    doc.ln(14)
    doc.set_font("Helvetica", "", 8)
    doc.multi_cell(
        0,
        4,
        "Per-message prices follow the plan's rate card when each message was delivered. "
        "Base fees are prorated by days on each plan. Amounts are net.",
    )
    return bytes(doc.output())
