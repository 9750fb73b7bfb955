-- Seal committed audit rows into the hash chain, in id order within each call; returns the rows
-- sealed. One sealer at a time, so that writers never serialize on the chain's head
-- (docs/decisions/0003-audit-sealing.md). Since 0003.

CREATE OR REPLACE FUNCTION tj_audit_seal(p_limit int DEFAULT 5000) RETURNS int
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
