from __future__ import annotations

from django.db import migrations

PLANS = [
    {"code": "free", "name": "Free", "max_agents": 3, "max_phone_numbers": 1, "api_requests_per_minute": 300},
    {"code": "enterprise", "name": "Enterprise", "max_agents": None, "max_phone_numbers": None, "api_requests_per_minute": 3000},
]


def seed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for plan in PLANS:
        Plan.objects.update_or_create(code=plan["code"], defaults=plan)


def unseed(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    Plan.objects.filter(code__in=[p["code"] for p in PLANS], companies__isnull=True).delete()


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(seed, unseed)]
