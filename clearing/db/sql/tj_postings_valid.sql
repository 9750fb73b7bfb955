-- Postings without foreign keys (0006: they cost a lock on the hot receivable account per
-- capture): one check per INSERT statement that every posting's entry and account exist and that
-- the entry belongs to the inserting transaction (nobody adds postings to an entry someone else
-- already committed). Accounts and entries are never deleted, so they stay valid. Since 0006.

CREATE OR REPLACE FUNCTION tj_postings_valid() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_bad record;
BEGIN
    SELECT n.entry_id, n.account_id, e.id IS NULL AS no_entry, a.id IS NULL AS no_account
      INTO v_bad
      FROM new_postings n
      LEFT JOIN journal_entries e ON e.id = n.entry_id
      LEFT JOIN ledger_accounts a ON a.id = n.account_id
     WHERE e.id IS NULL OR a.id IS NULL OR e.xmin <> pg_current_xact_id()::xid
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'posting refused: entry % (missing: %), account % (missing: %), or the entry was committed before',
            v_bad.entry_id, v_bad.no_entry, v_bad.account_id, v_bad.no_account
            USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'postings_valid';
    END IF;
    RETURN NULL;
END $$;
CREATE OR REPLACE TRIGGER postings_valid AFTER INSERT ON postings
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION tj_postings_valid();
