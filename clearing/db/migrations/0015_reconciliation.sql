-- Why: nightly reconciliation. Outside records of a business day (acquirers' bills, the
-- authorities' confirmation lists) are staged here with COPY, replaced whole when fetched again;
-- bank statement entries are already in bank_statement_entries. A run matches them against
-- payments, refunds, legs and settlement instructions and keeps only what finance staff need:
-- per-run statistics, the few matches made by rules (with rule and confidence), and
-- discrepancies — one row per (type, source, reference), so a repeated run finds the same row
-- instead of making a new one, and a later run that finds the record matched closes it.

CREATE TABLE recon_runs (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    business_date   date NOT NULL,
    state           text NOT NULL DEFAULT 'RUNNING'
                    CHECK (state IN ('RUNNING', 'DONE', 'FAILED')),
    started_by      text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at     timestamptz,
    stats           jsonb NOT NULL DEFAULT '{}',
    error           text
);
CREATE INDEX recon_runs_date ON recon_runs (business_date, id);

-- One channel's bill for one day, as the channel adapter normalized it (BillRecord). A partition
-- per business day, without indexes: a million-line bill goes in with COPY each night at the
-- speed of COPY, the passes read a day's lines whole (hash joins), and an old day is dropped
-- whole. Partitions are made by the staging code (reconciliation.stage) as days come.
CREATE TABLE recon_bill_lines (
    business_date       date NOT NULL,
    provider            text NOT NULL,
    kind                text NOT NULL CHECK (kind IN ('PAYMENT', 'REFUND', 'REVERSAL')),
    occurred_at         timestamptz NOT NULL,
    out_trade_no        text NOT NULL,
    provider_txn_id     text NOT NULL,
    out_refund_no       text,
    provider_refund_id  text,
    amount_fen          bigint NOT NULL,
    fee_millifen        bigint NOT NULL DEFAULT 0
) PARTITION BY LIST (business_date);

-- one authority's list of legs it confirmed on one day
CREATE TABLE recon_confirmation_lines (
    business_date   date NOT NULL,
    authority       text NOT NULL,
    reference       text NOT NULL,
    proof_no        text NOT NULL,
    amount_fen      bigint,
    confirmed_at    timestamptz NOT NULL
);
CREATE INDEX recon_confirmation_lines_day ON recon_confirmation_lines (business_date, authority);
CREATE INDEX recon_confirmation_lines_ref ON recon_confirmation_lines (reference);

-- what each source delivered for a day (so that a re-run knows what it has, and reports say it)
CREATE TABLE recon_sources (
    business_date   date NOT NULL,
    source          text NOT NULL,
    fetched_at      timestamptz NOT NULL DEFAULT now(),
    records         int NOT NULL,
    sha256          text,
    PRIMARY KEY (business_date, source)
);

-- matches made by a rule other than an exact reference (tolerance, one-to-many)
CREATE TABLE recon_matches (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    business_date   date NOT NULL,
    rule            text NOT NULL,
    confidence      int NOT NULL CHECK (confidence BETWEEN 0 AND 100),
    state           text NOT NULL CHECK (state IN ('AUTO', 'PROPOSED', 'CONFIRMED', 'REJECTED')),
    external_ref    text NOT NULL,
    internal_ref    text NOT NULL,
    amount_fen      bigint NOT NULL,
    detail          jsonb NOT NULL DEFAULT '{}',
    run_id          bigint REFERENCES recon_runs (id),
    decided_by      bigint REFERENCES principals (id),
    decided_at      timestamptz,
    CONSTRAINT recon_matches_pair_key UNIQUE (rule, external_ref, internal_ref)
);

CREATE TABLE discrepancies (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    business_date   date NOT NULL,
    type            text NOT NULL CHECK (type IN (
                        'LONG',                -- paid at the channel, unknown to us (长款)
                        'SHORT',               -- known to us, not at the channel (短款)
                        'TIMING',              -- missing across the cut-off; closes when matched
                        'AMOUNT_MISMATCH',
                        'DUPLICATE',
                        'FEE_MISMATCH',
                        'REFUND_MISMATCH',
                        'UNCONFIRMED_LEG',
                        'UNKNOWN_CONFIRMATION',
                        'SETTLEMENT_REJECTED',
                        'STATEMENT_CREDIT_UNMATCHED',
                        'STATEMENT_DEBIT_UNMATCHED',
                        'ACQUIRER_CREDIT_MISMATCH',
                        'BALANCE_DRIFT')),
    source          text NOT NULL,         -- wechatpay, tax, bank:SFBK, ledger …
    reference       text NOT NULL,         -- the record's own id (txn id, voucher, AcctSvcrRef)
    our_ref         text,                  -- ours, when we have one (order no., EndToEndId)
    amount_fen      bigint,                -- ours
    their_amount_fen bigint,               -- theirs
    detail          jsonb NOT NULL DEFAULT '{}',
    state           text NOT NULL DEFAULT 'OPEN'
                    CHECK (state IN ('OPEN', 'ASSIGNED', 'RESOLVED', 'VOID')),
    assigned_to     bigint REFERENCES principals (id),
    resolution      text,
    resolved_by     text,
    resolved_at     timestamptz,
    first_run_id    bigint NOT NULL REFERENCES recon_runs (id),
    last_run_id     bigint NOT NULL REFERENCES recon_runs (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT discrepancies_key UNIQUE (type, source, reference)
);
CREATE INDEX discrepancies_open ON discrepancies (state, type) WHERE state IN ('OPEN', 'ASSIGNED');
CREATE INDEX discrepancies_day ON discrepancies (business_date);

CREATE TABLE discrepancy_comments (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    discrepancy_id  bigint NOT NULL REFERENCES discrepancies (id),
    author          bigint NOT NULL REFERENCES principals (id),
    body            text NOT NULL CHECK (length(body) BETWEEN 1 AND 2000),
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- A resolution that changes money: an adjusting journal entry proposed by one person and
-- posted only when a second person approves it.
CREATE TABLE recon_adjustments (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    discrepancy_id  bigint NOT NULL REFERENCES discrepancies (id),
    legs            jsonb NOT NULL,        -- [[account code, signed fen], …], summing to zero
    memo            text NOT NULL,
    state           text NOT NULL DEFAULT 'REQUESTED'
                    CHECK (state IN ('REQUESTED', 'POSTED', 'REJECTED')),
    requested_by    bigint NOT NULL REFERENCES principals (id),
    requested_at    timestamptz NOT NULL DEFAULT now(),
    decided_by      bigint REFERENCES principals (id),
    decided_at      timestamptz,
    entry_id        bigint REFERENCES journal_entries (id),
    CONSTRAINT recon_adjustments_four_eyes CHECK (decided_by <> requested_by)
);

INSERT INTO ledger_accounts (code, name, kind) VALUES
    ('acquirer_fees', '手续费支出', 'expense'),
    ('recon_writeoff', '对账差异调整', 'suspense')
ON CONFLICT (code) DO NOTHING;
