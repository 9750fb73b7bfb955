-- A ledger account's id, code and kind never change (its name may). Since 0006.

CREATE OR REPLACE FUNCTION tj_ledger_account_fixed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id <> OLD.id OR NEW.code <> OLD.code OR NEW.kind <> OLD.kind THEN
        RAISE EXCEPTION 'a ledger account''s id, code and kind never change'
            USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'ledger_accounts_fixed';
    END IF;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER ledger_accounts_fixed BEFORE UPDATE ON ledger_accounts
    FOR EACH ROW EXECUTE FUNCTION tj_ledger_account_fixed();
