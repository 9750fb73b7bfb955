-- Why: the bank's answers close the loop. Each statement entry on our collection account is
-- applied once (by the bank's AcctSvcrRef), whatever the number of times a day's statement is
-- published; money that arrives from outside and cannot yet be told apart (an acquirer's
-- settlement before its bill is reconciled) waits on its own account, not in suspense.

CREATE TABLE bank_statement_entries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bank            text NOT NULL,
    account_no      text NOT NULL,
    acct_svcr_ref   text NOT NULL,
    booking_date    date,
    amount_fen      bigint NOT NULL,  -- signed: a credit positive, a debit negative
    end_to_end_id   text,
    counterparty    text,
    remittance      text,
    -- what applying it did: SETTLEMENT (our instruction booked), RETURN, CREDIT (money in)
    applied_as      text NOT NULL,
    entry_id        bigint REFERENCES journal_entries (id),
    imported_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bank_statement_entries_ref_key UNIQUE (bank, account_no, acct_svcr_ref)
);

INSERT INTO ledger_accounts (code, name, kind) VALUES
    ('bank_unapplied', '待核销银行来账', 'liability')
ON CONFLICT (code) DO NOTHING;
