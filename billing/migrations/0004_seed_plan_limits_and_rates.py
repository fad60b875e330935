"""Seeds every plan limit and the Enterprise rate card (ARCHITECTURE.md "Plans"), opens a
subscription row for existing companies, and makes the ledger and invoices append-only in
the database itself (a trigger refuses UPDATE and DELETE, whatever code runs).

Rates are illustrative EUR figures after the per-message card of 1 Jul 2025
(whatsapp-platform.md §4.2): operators load the real card in the admin.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import migrations

LIMITS = {
    "free": {
        "name": "Free",
        "description": "For a small business: one number, a few agents, small broadcasts.",
        "max_agents": 3,
        "max_phone_numbers": 1,
        "max_broadcast_recipients": 256,
        "max_business_initiated_per_day": 1000,
        "unverified_broadcast_cap": 50,
        "api_requests_per_minute": 300,
        "outgoing_webhooks": False,
        "monthly_fee": Decimal("0.00"),
    },
    "enterprise": {
        "name": "Enterprise",
        "description": "Unlimited numbers and agents, high API rate, webhooks; messages priced per category.",
        "max_agents": None,
        "max_phone_numbers": None,
        "max_broadcast_recipients": None,
        "max_business_initiated_per_day": None,
        "unverified_broadcast_cap": 50,
        "api_requests_per_minute": 3000,
        "outgoing_webhooks": True,
        "monthly_fee": Decimal("499.00"),
    },
}
# (category, market, EUR per message) for Enterprise; "*" is every other market.
ENTERPRISE_RATES = [
    ("marketing", "*", "0.0550"),
    ("marketing", "DE", "0.1270"),
    ("marketing", "US", "0.0230"),
    ("marketing", "IN", "0.0100"),
    ("marketing", "BR", "0.0580"),
    ("utility", "*", "0.0180"),
    ("utility", "DE", "0.0510"),
    ("utility", "US", "0.0037"),
    ("utility", "IN", "0.0013"),
    ("utility", "BR", "0.0074"),
    ("authentication", "*", "0.0180"),
    ("authentication", "DE", "0.0510"),
    ("authentication", "US", "0.0125"),
    ("authentication", "IN", "0.0013"),
    ("authentication", "BR", "0.0290"),
    ("service", "*", "0.0000"),
]
APPEND_ONLY_TABLES = ["billing_usagerecord", "billing_invoice", "billing_invoiceline"]


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    RatePrice = apps.get_model("billing", "RatePrice")
    Subscription = apps.get_model("billing", "Subscription")
    InvoiceCounter = apps.get_model("billing", "InvoiceCounter")
    Company = apps.get_model("tenants", "Company")
    for code, values in LIMITS.items():
        Plan.objects.update_or_create(code=code, defaults=values)
    enterprise = Plan.objects.get(code="enterprise")
    for category, market, price in ENTERPRISE_RATES:
        RatePrice.objects.update_or_create(
            plan=enterprise, category=category, market=market, defaults={"unit_price": Decimal(price)}
        )
    for company in Company.objects.filter(plan__isnull=False, status__in=["active", "suspended"]):
        if not Subscription.objects.filter(company=company, ended_at__isnull=True).exists():
            Subscription.objects.create(
                company=company, plan_id=company.plan_id, started_at=company.provisioned_at or company.created_at
            )
    if not InvoiceCounter.objects.exists():
        InvoiceCounter.objects.create(pk=1, last_number=0)


def unseed(apps, schema_editor):
    apps.get_model("billing", "RatePrice").objects.all().delete()
    apps.get_model("billing", "Subscription").objects.all().delete()
    apps.get_model("billing", "InvoiceCounter").objects.all().delete()


TRIGGER_FUNCTION = """
CREATE OR REPLACE FUNCTION billing_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION '% rows are append-only: % refused', TG_TABLE_NAME, TG_OP;
END;
$$ LANGUAGE plpgsql;
"""
TRIGGERS = "\n".join(
    f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
    f"FOR EACH ROW EXECUTE FUNCTION billing_append_only();"
    for table in APPEND_ONLY_TABLES
)
TRIGGERS_DROP = "\n".join(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table};" for table in APPEND_ONLY_TABLES)


class Migration(migrations.Migration):
    dependencies = [("billing", "0003_plans_rates_usage_invoices")]
    operations = [
        migrations.RunPython(seed, unseed),
        migrations.RunSQL(
            TRIGGER_FUNCTION + TRIGGERS,
            TRIGGERS_DROP + "DROP FUNCTION IF EXISTS billing_append_only();",
        ),
    ]
