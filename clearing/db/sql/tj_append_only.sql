-- Append-only tables: a trigger refuses UPDATE, DELETE (per row) and TRUNCATE (per statement).
-- Ledger accounts may be updated (tj_ledger_account_fixed guards what may change), never deleted.
-- Since 0002 (postings, journal entries), 0003 (audit log: truncate; tj_audit_guard guards the
-- rest), 0006 (ledger accounts), 0010 (fee schedules), 0017 (shifts, shift items, office days).

CREATE OR REPLACE FUNCTION tj_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege', CONSTRAINT = TG_TABLE_NAME || '_append_only';
END $$;

CREATE OR REPLACE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION tj_append_only();
CREATE OR REPLACE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION tj_append_only();
CREATE OR REPLACE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION tj_append_only();
CREATE OR REPLACE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION tj_append_only();
CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION tj_append_only();
CREATE OR REPLACE TRIGGER ledger_accounts_append_only BEFORE DELETE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION tj_append_only();
CREATE OR REPLACE TRIGGER ledger_accounts_no_truncate BEFORE TRUNCATE ON ledger_accounts
    FOR EACH STATEMENT EXECUTE FUNCTION tj_append_only();
CREATE OR REPLACE TRIGGER registration_fee_schedules_append_only
    BEFORE UPDATE OR DELETE ON registration_fee_schedules
    FOR EACH ROW EXECUTE FUNCTION tj_append_only();
-- frozen: a closed shift and what it counted are never changed
CREATE OR REPLACE TRIGGER shifts_append_only BEFORE UPDATE OR DELETE ON shifts
    FOR EACH ROW EXECUTE FUNCTION tj_append_only();
CREATE OR REPLACE TRIGGER shift_items_append_only BEFORE UPDATE OR DELETE ON shift_items
    FOR EACH ROW EXECUTE FUNCTION tj_append_only();
CREATE OR REPLACE TRIGGER office_days_append_only BEFORE UPDATE OR DELETE ON office_days
    FOR EACH ROW EXECUTE FUNCTION tj_append_only();
