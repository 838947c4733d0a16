"""Search that works for Japanese: pg_trgm and GIN trigram indexes on the titles (PostgreSQL only).

Japanese has no spaces for full-text search to split words on; trigrams match any substring of three
characters or more (現況届, 児童扶養). The indexes are on UPPER(...) because Django's icontains compares
UPPER(column) LIKE UPPER(%s). On SQLite (the demo) nothing is created and the search scans.
"""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

INDEXES = {
    "notices_title_ja_trgm": "title_ja",
    "notices_title_en_trgm": "title_en",
}


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in INDEXES.items():
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "notices_notice" USING gin ((UPPER("{column}"::text)) gin_trgm_ops)'
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("notices", "0001_initial")]

    operations = [
        TrigramExtension(),
        migrations.RunPython(create_indexes, drop_indexes),
    ]
