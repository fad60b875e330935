"""Trigram indexes for the inbox search, on exactly the expressions inbox.selectors uses.

Django's `icontains` compares UPPER(column), so the plain trigram indexes of 0001 were
never used (2.5 s per search at 100k threads / 5M messages); these replace them. The
expressions live in raw SQL because the contact one must match the selector's concatenation
character for character for PostgreSQL to use it.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("inbox", "0002_broadcasts")]

    operations = [
        migrations.RemoveIndex(model_name="contact", name="contact_name_trgm"),
        migrations.RemoveIndex(model_name="contact", name="contact_phone_trgm"),
        migrations.RemoveIndex(model_name="message", name="message_text_trgm"),
        migrations.RunSQL(
            "CREATE INDEX message_text_upper_trgm ON inbox_message USING gin (UPPER(text) gin_trgm_ops)",
            "DROP INDEX message_text_upper_trgm",
        ),
        migrations.RunSQL(
            "CREATE INDEX contact_search_upper_trgm ON inbox_contact "
            "USING gin (UPPER(name || ' ' || profile_name || ' ' || phone) gin_trgm_ops)",
            "DROP INDEX contact_search_upper_trgm",
        ),
    ]
