"""On PostgreSQL, the access history refuses UPDATE and DELETE at the database itself (SPEC 2.3)."""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION history_refuse_change() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the access history is append-only: % refused on %', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER history_releaserecord_append_only
    BEFORE UPDATE OR DELETE ON history_releaserecord
    FOR EACH ROW EXECUTE FUNCTION history_refuse_change();
"""

DROP = """
DROP TRIGGER IF EXISTS history_releaserecord_append_only ON history_releaserecord;
DROP FUNCTION IF EXISTS history_refuse_change();
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP, params=None)


class Migration(migrations.Migration):
    dependencies = [("history", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
