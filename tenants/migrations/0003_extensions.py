from django.contrib.postgres.operations import BtreeGistExtension, TrigramExtension
from django.db import migrations


class Migration(migrations.Migration):
    """Extensions live in the public schema, created once per database before any tenant
    schema needs them (tenant tables find `gin_trgm_ops` through search_path)."""

    dependencies = [("tenants", "0002_phonenumberroute_providerevent")]
    operations = [TrigramExtension(), BtreeGistExtension()]
