-- Why: an append-only, hash-chained record of every state change and staff action.
-- Rows are written by the transaction that makes the change and sealed into the chain shortly
-- after by one sealer (tj_audit_seal), so that writers never serialize on the chain's head
-- (docs/decisions/0003-audit-sealing.md). A sealed row can never change; nothing can be deleted.

CREATE TABLE audit_log (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor        text NOT NULL,
    action       text NOT NULL,
    object_type  text NOT NULL,
    object_id    text NOT NULL,
    detail       jsonb NOT NULL DEFAULT '{}',
    request_id   text,
    seq          bigint,
    prev_hash    bytea,
    hash         bytea,
    CONSTRAINT audit_log_seq_key UNIQUE (seq)
);
CREATE INDEX audit_log_unsealed ON audit_log (id) WHERE seq IS NULL;
CREATE INDEX audit_log_object ON audit_log (object_type, object_id);

-- The bytes a row's hash covers. verify (in Python) reads the same expression back.
CREATE FUNCTION tj_audit_canonical(r audit_log) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT concat_ws('|', r.id::text,
                     (extract(epoch FROM r.at) * 1000000)::bigint::text,
                     r.actor, r.action, r.object_type, r.object_id,
                     r.detail::text, coalesce(r.request_id, ''))
$$;

CREATE FUNCTION tj_audit_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'audit_log is append-only: DELETE refused'
            USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'audit_log_append_only';
    END IF;
    -- the only change allowed is sealing an unsealed row, leaving its content untouched
    IF OLD.seq IS NOT NULL
       OR (OLD.id, OLD.at, OLD.actor, OLD.action, OLD.object_type, OLD.object_id, OLD.detail,
           OLD.request_id)
          IS DISTINCT FROM
          (NEW.id, NEW.at, NEW.actor, NEW.action, NEW.object_type, NEW.object_id, NEW.detail,
           NEW.request_id)
    THEN
        RAISE EXCEPTION 'audit_log is append-only: UPDATE refused'
            USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'audit_log_append_only';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER audit_log_guard BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION tj_audit_guard();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION tj_append_only();

-- Seal committed rows into the chain, in id order within each call. Returns rows sealed.
CREATE FUNCTION tj_audit_seal(p_limit int DEFAULT 5000) RETURNS int
LANGUAGE plpgsql AS $$
DECLARE
    v_seq  bigint;
    v_prev bytea;
    v_new  bytea;
    v_n    int := 0;
    r      audit_log;
BEGIN
    IF NOT pg_try_advisory_xact_lock(hashtextextended('tongjiao.audit.seal', 0)) THEN
        RETURN 0;  -- another sealer is at work
    END IF;
    SELECT seq, hash INTO v_seq, v_prev FROM audit_log
     WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1;
    v_seq := coalesce(v_seq, 0);
    v_prev := coalesce(v_prev, '\x'::bytea);
    FOR r IN SELECT * FROM audit_log WHERE seq IS NULL ORDER BY id LIMIT p_limit FOR UPDATE LOOP
        v_seq := v_seq + 1;
        v_new := sha256(v_prev || convert_to(tj_audit_canonical(r), 'UTF8'));
        UPDATE audit_log SET seq = v_seq, prev_hash = v_prev, hash = v_new WHERE id = r.id;
        v_prev := v_new;
        v_n := v_n + 1;
    END LOOP;
    RETURN v_n;
END $$;
