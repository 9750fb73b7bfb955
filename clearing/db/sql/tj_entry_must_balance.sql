-- Every journal entry sums to zero over at least two postings, checked once per entry at commit
-- (a deferred constraint trigger on journal_entries). Since 0002; 0006 moved the check from every
-- posting to every entry (a constraint trigger cannot be replaced, so it is dropped and made
-- again, and the per-posting trigger of 0002 is gone for good).

DROP TRIGGER IF EXISTS postings_balance ON postings;

CREATE OR REPLACE FUNCTION tj_entry_must_balance() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_sum bigint;
    v_n   int;
BEGIN
    SELECT coalesce(sum(amount_fen), 0), count(*) INTO v_sum, v_n
      FROM postings WHERE entry_id = NEW.id;
    IF v_sum <> 0 OR v_n < 2 THEN
        RAISE EXCEPTION 'journal entry % does not balance (sum % fen over % postings)',
            NEW.id, v_sum, v_n
            USING ERRCODE = 'check_violation', CONSTRAINT = 'journal_entry_balanced';
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS journal_entries_balance ON journal_entries;
CREATE CONSTRAINT TRIGGER journal_entries_balance
    AFTER INSERT ON journal_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION tj_entry_must_balance();
