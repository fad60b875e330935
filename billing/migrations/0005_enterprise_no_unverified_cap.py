"""Enterprise has no cap on an unverified company's broadcasts (ARCHITECTURE.md "Plans":
"an unverified company broadcasts to at most 50 recipients" is a Free limit only).

0004 seeded `unverified_broadcast_cap = 50` for Enterprise too. The row is the operators'
to edit, so only the seeded value is changed: a cap an operator set is kept. Reversing puts
the seeded 50 back where the cap is empty.
"""

from __future__ import annotations

from django.db import migrations

SEEDED_CAP = 50


def lift(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    Plan.objects.filter(code="enterprise", unverified_broadcast_cap=SEEDED_CAP).update(unverified_broadcast_cap=None)


def restore(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    Plan.objects.filter(code="enterprise", unverified_broadcast_cap__isnull=True).update(
        unverified_broadcast_cap=SEEDED_CAP
    )


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_seed_plan_limits_and_rates")]
    operations = [migrations.RunPython(lift, restore)]
