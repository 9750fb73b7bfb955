-- The audit log is append-only: nothing is deleted, and the only change allowed is sealing an
-- unsealed row without touching its content (TRUNCATE: tj_append_only). Since 0003.

CREATE OR REPLACE FUNCTION tj_audit_guard() RETURNS trigger
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
CREATE OR REPLACE TRIGGER audit_log_guard BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION tj_audit_guard();
