"""On PostgreSQL, the access history becomes a table partitioned by month, so it can grow to billions of rows:
each month is its own table (indexes stay small, old months can be archived whole). The append-only trigger
is kept on the partitioned table and so applies to every partition.

A partitioned table's primary key and unique constraints must include the partition key: the key becomes
(id, occurred_at), and (owner, seq) is indexed but not unique; the chain head, locked while appending,
is what keeps seq unique, and verify_history would report a duplicate as a broken link.
"""

from django.db import migrations

PARTITIONED = """
DROP TRIGGER IF EXISTS history_releaserecord_append_only ON history_releaserecord;
ALTER TABLE history_releaserecord RENAME TO history_releaserecord_plain;
CREATE TABLE history_releaserecord (LIKE history_releaserecord_plain INCLUDING DEFAULTS)
    PARTITION BY RANGE (occurred_at);
CREATE SEQUENCE history_releaserecord_part_id_seq OWNED BY history_releaserecord.id;
ALTER TABLE history_releaserecord ALTER COLUMN id SET DEFAULT nextval('history_releaserecord_part_id_seq');
ALTER TABLE history_releaserecord ADD PRIMARY KEY (id, occurred_at);
ALTER TABLE history_releaserecord ADD CONSTRAINT history_releaserecord_owner_fk
    FOREIGN KEY (owner_id) REFERENCES identity_resident (id) DEFERRABLE INITIALLY DEFERRED;
CREATE INDEX history_releaserecord_owner_seq ON history_releaserecord (owner_id, seq);
CREATE INDEX history_releaserecord_owner_time ON history_releaserecord (owner_id, occurred_at DESC);
CREATE INDEX history_releaserecord_time ON history_releaserecord (occurred_at);

-- Creates the partition holding the month of `moment`, if missing; called ahead of time by a periodic task.
CREATE OR REPLACE FUNCTION history_ensure_month(moment timestamptz) RETURNS text AS $$
DECLARE
    first_day date := date_trunc('month', moment AT TIME ZONE 'UTC')::date;
    name text := 'history_releaserecord_' || to_char(first_day, 'YYYYMM');
BEGIN
    IF to_regclass(name) IS NULL THEN
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF history_releaserecord FOR VALUES FROM (%L) TO (%L)',
            name, first_day::timestamp AT TIME ZONE 'UTC',
            (first_day + interval '1 month')::timestamp AT TIME ZONE 'UTC'
        );
    END IF;
    RETURN name;
END;
$$ LANGUAGE plpgsql;

-- Rows outside every month partition land here rather than fail; the periodic task keeps it empty.
CREATE TABLE history_releaserecord_default PARTITION OF history_releaserecord DEFAULT;
SELECT history_ensure_month(now() - interval '1 month');
SELECT history_ensure_month(now());
SELECT history_ensure_month(now() + interval '1 month');
SELECT history_ensure_month(now() + interval '2 month');

-- Keep what the plain table already held: a partition for each of its months, its rows, its ids.
SELECT history_ensure_month(month)
    FROM (SELECT DISTINCT date_trunc('month', occurred_at) AS month FROM history_releaserecord_plain) AS months;
INSERT INTO history_releaserecord SELECT * FROM history_releaserecord_plain;
SELECT setval('history_releaserecord_part_id_seq', GREATEST((SELECT max(id) FROM history_releaserecord), 1));
DROP TABLE history_releaserecord_plain;

CREATE TRIGGER history_releaserecord_append_only
    BEFORE UPDATE OR DELETE ON history_releaserecord
    FOR EACH ROW EXECUTE FUNCTION history_refuse_change();
"""


def partition(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PARTITIONED, params=None)


class Migration(migrations.Migration):
    dependencies = [("history", "0003_deferred_roots_alerts")]
    # One way only: undoing would mean copying billions of rows back into one table.
    operations = [migrations.RunPython(partition, migrations.RunPython.noop)]
