-- Every beneficiary has a payable account the split credits, and a clawback account a refund of
-- an already settled line is claimed back on (0002; the clawback account since 0008).

CREATE OR REPLACE FUNCTION tj_beneficiary_account() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_accounts (code, name, kind)
    VALUES ('payable:' || NEW.code, '应付 ' || NEW.name, 'liability'),
           ('clawback:' || NEW.code, '应追回 ' || NEW.name, 'asset')
    ON CONFLICT (code) DO NOTHING;
    RETURN NEW;
END $$;
CREATE OR REPLACE TRIGGER beneficiaries_account AFTER INSERT ON beneficiaries
    FOR EACH ROW EXECUTE FUNCTION tj_beneficiary_account();
