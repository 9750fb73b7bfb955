-- Why: a statement must add up (opening + entries = closing) and follow on from the one before
-- (its opening is the previous closing). Banks' files break both now and then; the nightly run
-- raises it as BALANCE_DRIFT, which blocks calling the day reconciled. So each statement of our
-- collection account keeps its balances, as the bank stated them, and what did not add up.

CREATE TABLE bank_statement_balances (
    bank            text NOT NULL,
    account_no      text NOT NULL,
    statement_date  date NOT NULL,
    opening_fen     bigint,
    closing_fen     bigint,
    violations      jsonb NOT NULL DEFAULT '[]',
    file_name       text NOT NULL,
    imported_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (bank, account_no, statement_date)
);
