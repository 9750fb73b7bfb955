-- The bytes an audit row's hash covers. verify (in Python) reads the same expression back.
-- Since 0003.

CREATE OR REPLACE FUNCTION tj_audit_canonical(r audit_log) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT concat_ws('|', r.id::text,
                     (extract(epoch FROM r.at) * 1000000)::bigint::text,
                     r.actor, r.action, r.object_type, r.object_id,
                     r.detail::text, coalesce(r.request_id, ''))
$$;
