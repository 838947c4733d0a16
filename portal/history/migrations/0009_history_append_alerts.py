"""PostgreSQL: history_append() also decides the release's alert and makes it, in the same call.

The rule stays in portal.history.services (alert_rule): the caller says what decides, "always", a column
of the owner's AlertPreference, or NULL for never, and what holds when the owner stored no preference.
The function reads that column and inserts the ReleaseAlert beside the record, so a proxy's or a firm's
read costs no extra round trip and no ORM query (bench/README.md, issue 7). It returns whether it
alerted, for the caller to queue the push after the commit.
"""

import importlib

from django.db import migrations

APPEND_0007 = importlib.import_module("portal.history.migrations.0007_history_append").CREATE
SIGNATURE_0007 = "bigint, text, text, text, text, text, jsonb, text, text, text, timestamptz, timestamptz"
SIGNATURE = f"{SIGNATURE_0007}, text, boolean"

CREATE = r"""
CREATE FUNCTION history_append(
    p_owner bigint, p_body text, p_actor_type text, p_actor_ref text, p_actor_label text,
    p_category text, p_items jsonb, p_purpose text, p_legal_basis text, p_channel text,
    p_occurred_at timestamptz, p_disclose_from timestamptz, p_alert_rule text, p_alert_unset boolean
) RETURNS TABLE (
    record_id bigint, record_seq bigint, record_prev_hash text, record_hash text, alerted boolean
) AS $$
DECLARE
    v_seq bigint;
    v_prev text;
    v_hash text;
    v_id bigint;
    v_alert boolean;
BEGIN
    IF p_alert_rule IS NOT NULL AND p_alert_rule NOT IN ('always', 'on_firm_reads', 'on_proxy_reads') THEN
        RAISE EXCEPTION 'history_append: unknown alert rule %', p_alert_rule;
    END IF;
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

    IF p_alert_rule IS NULL THEN
        v_alert := false;
    ELSIF p_alert_rule = 'always' THEN
        v_alert := true;
    ELSE
        SELECT CASE p_alert_rule WHEN 'on_firm_reads' THEN a.on_firm_reads ELSE a.on_proxy_reads END
            INTO v_alert FROM history_alertpreference a WHERE a.resident_id = p_owner;
        IF NOT FOUND THEN
            v_alert := p_alert_unset;
        END IF;
    END IF;
    IF v_alert THEN
        -- A deferred release alerts only from its disclosure date (ReleaseAlert.visible_from).
        INSERT INTO history_releasealert (
            resident_id, record_seq, actor_type, actor_label, category, occurred_at, visible_from
        ) VALUES (
            p_owner, v_seq, p_actor_type, p_actor_label, p_category, p_occurred_at,
            coalesce(p_disclose_from, p_occurred_at)
        );
    END IF;
    RETURN QUERY SELECT v_id, v_seq, v_prev, v_hash, v_alert;
END;
$$ LANGUAGE plpgsql;
"""


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP FUNCTION IF EXISTS history_append({SIGNATURE_0007})", params=None)
        schema_editor.execute(CREATE, params=None)


def restore_0007(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP FUNCTION IF EXISTS history_append({SIGNATURE})", params=None)
        schema_editor.execute(APPEND_0007, params=None)


class Migration(migrations.Migration):
    dependencies = [("history", "0008_proxy_reads_alert_by_default")]
    operations = [migrations.RunPython(create, restore_0007)]
