"""PostgreSQL: history_append(), which appends one record to a resident's chain in a single call.

It takes the canonical body computed by portal.history.services.record_body, locks (or creates) the
resident's chain head, computes the same digest as services.chain_digest, inserts the record and moves the
head. Done in the database, the whole append is one round trip.
"""

from django.db import migrations

CREATE = r"""
CREATE OR REPLACE FUNCTION history_append(
    p_owner bigint, p_body text, p_actor_type text, p_actor_ref text, p_actor_label text,
    p_category text, p_items jsonb, p_purpose text, p_legal_basis text, p_channel text,
    p_occurred_at timestamptz, p_disclose_from timestamptz
) RETURNS TABLE (record_id bigint, record_seq bigint, record_prev_hash text, record_hash text) AS $$
DECLARE
    v_seq bigint;
    v_prev text;
    v_hash text;
    v_id bigint;
BEGIN
    -- The head row is the chain's lock: the first record creates it, later ones wait on it here.
    INSERT INTO history_chainhead AS h (owner_id, seq, head_hash)
        VALUES (p_owner, 1, repeat('0', 64))
        ON CONFLICT (owner_id) DO UPDATE SET seq = h.seq + 1
        RETURNING h.seq, h.head_hash INTO v_seq, v_prev;
    v_hash := encode(sha256(convert_to(p_body || E'\n' || v_seq::text || E'\n' || v_prev, 'UTF8')), 'hex');
    INSERT INTO history_releaserecord (
        owner_id, seq, actor_type, actor_ref, actor_label, category, items, purpose, legal_basis,
        channel, occurred_at, disclose_from, prev_hash, record_hash
    ) VALUES (
        p_owner, v_seq, p_actor_type, p_actor_ref, p_actor_label, p_category, p_items, p_purpose,
        p_legal_basis, p_channel, p_occurred_at, p_disclose_from, v_prev, v_hash
    ) RETURNING id INTO v_id;
    UPDATE history_chainhead SET head_hash = v_hash WHERE owner_id = p_owner;
    RETURN QUERY SELECT v_id, v_seq, v_prev, v_hash;
END;
$$ LANGUAGE plpgsql;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP FUNCTION IF EXISTS history_append", params=None)


class Migration(migrations.Migration):
    dependencies = [("history", "0006_auditor_group")]
    operations = [migrations.RunPython(create, drop)]
