-- Why: settlement to banks. Every beneficiary account gets its bank's CNAPS code (联行号) and a
-- cut-off schedule; a cut-off gathers the paid lines not yet settled into a batch with one
-- instruction per beneficiary account. A partial unique index makes "each payable posting in
-- exactly one live instruction" a fact of the database, whatever callers race; the bank's answers
-- move instructions; a booked instruction posts debit payable / credit the collection account,
-- a returned one reverses that. Correcting a beneficiary's account is maker-checker.

ALTER TABLE beneficiaries
    ADD COLUMN bank_code    text CHECK (bank_code ~ '^[0-9]{12}$'),
    ADD COLUMN settle_mode  text NOT NULL DEFAULT 'daily'
                            CHECK (settle_mode IN ('daily', 'realtime')),
    -- Beijing time of day after which the day's lines are gathered (daily accounts)
    ADD COLUMN cutoff_local time NOT NULL DEFAULT '15:30',
    -- why payouts to this account wait (a rejected or returned line); NULL when they may go
    ADD COLUMN payout_hold  text;

ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_kind_check;
ALTER TABLE journal_entries ADD CONSTRAINT journal_entries_kind_check CHECK (kind IN (
    'CAPTURE', 'SUSPENSE', 'REFUND', 'ADJUSTMENT', 'SETTLEMENT', 'SETTLEMENT_RETURN',
    'BANK_CREDIT'));

INSERT INTO ledger_accounts (code, name, kind) VALUES
    ('bank:collection', '银行存款 归集账户', 'asset')
ON CONFLICT (code) DO NOTHING;

CREATE TABLE settlement_batches (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bank            text NOT NULL CHECK (bank ~ '^[A-Z0-9]{2,10}$'),
    business_date   date NOT NULL,
    seq             int NOT NULL CHECK (seq BETWEEN 1 AND 999),
    -- GrpHdr/MsgId of the pain.001: unique per file, the same on a resend of the same file
    msg_id          text NOT NULL,
    cutoff_at       timestamptz NOT NULL,
    execution_date  date NOT NULL,
    state           text NOT NULL DEFAULT 'CREATED' CHECK (state IN (
                        'CREATED', 'FILES_WRITTEN', 'DELIVERED', 'ANSWERED', 'CLOSED')),
    instruction_count int NOT NULL CHECK (instruction_count > 0),
    total_fen       bigint NOT NULL CHECK (total_fen > 0),
    line_count      int NOT NULL CHECK (line_count > 0),
    created_by      text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    delivered_at    timestamptz,
    CONSTRAINT settlement_batches_seq_key UNIQUE (bank, business_date, seq),
    CONSTRAINT settlement_batches_msg_id_key UNIQUE (msg_id)
);

CREATE TABLE settlement_instructions (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id           bigint NOT NULL REFERENCES settlement_batches (id),
    seq                int NOT NULL,
    end_to_end_id      text NOT NULL,
    beneficiary_code   text NOT NULL REFERENCES beneficiaries (code),
    -- the account as it was at cut-off: what the file says, whatever changes later
    creditor_name      text NOT NULL,
    creditor_account   text NOT NULL,
    creditor_bank_code text NOT NULL,
    creditor_bank_name text NOT NULL,
    amount_fen         bigint NOT NULL CHECK (amount_fen > 0),
    state              text NOT NULL DEFAULT 'PENDING' CHECK (state IN (
                           'PENDING', 'ACCEPTED', 'BOOKED', 'REJECTED', 'RETURNED')),
    reason_code        text,
    reason_text        text,
    answered_at        timestamptz,
    entry_id           bigint REFERENCES journal_entries (id),
    return_entry_id    bigint REFERENCES journal_entries (id),
    CONSTRAINT settlement_instructions_e2e_key UNIQUE (end_to_end_id),
    CONSTRAINT settlement_instructions_seq_key UNIQUE (batch_id, seq)
);
CREATE INDEX settlement_instructions_batch ON settlement_instructions (batch_id);

-- The order lines (each one capture posting to a payable) inside an instruction. A rejected or
-- returned instruction releases its lines for the next cut-off; only one unreleased row per line.
CREATE TABLE settlement_items (
    instruction_id  bigint NOT NULL REFERENCES settlement_instructions (id),
    order_id        bigint NOT NULL,
    line_no         int NOT NULL,
    posting_id      bigint NOT NULL,
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
    released_at     timestamptz,
    PRIMARY KEY (instruction_id, order_id, line_no)
);
CREATE UNIQUE INDEX settlement_items_live ON settlement_items (order_id, line_no)
    WHERE released_at IS NULL;
CREATE INDEX settlement_lines_unsettled ON order_lines (order_id) WHERE settled_at IS NULL;

-- Every file written for a batch, and its checksum: what the bank may fetch, and what we resend.
CREATE TABLE settlement_files (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    batch_id    bigint NOT NULL REFERENCES settlement_batches (id),
    name        text NOT NULL,
    kind        text NOT NULL CHECK (kind IN ('pain001', 'payout', 'detail', 'sha256', 'sig')),
    sha256      text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    size        bigint NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT settlement_files_name_key UNIQUE (name)
);

-- Files the bank sent back (pain.002, camt.053), each applied once.
CREATE TABLE bank_inbound_files (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    bank        text NOT NULL,
    name        text NOT NULL,
    kind        text NOT NULL,
    sha256      text NOT NULL,
    summary     jsonb NOT NULL DEFAULT '{}',
    imported_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT bank_inbound_files_name_key UNIQUE (bank, name)
);

-- Maker-checker: a new account for a beneficiary takes effect only when a second person approves.
CREATE TABLE beneficiary_account_changes (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    beneficiary_code text NOT NULL REFERENCES beneficiaries (code),
    account_no      text NOT NULL CHECK (account_no ~ '^[0-9A-Za-z-]{6,34}$'),
    account_name    text NOT NULL CHECK (length(account_name) BETWEEN 1 AND 100),
    bank_name       text NOT NULL CHECK (length(bank_name) BETWEEN 1 AND 100),
    bank_code       text NOT NULL CHECK (bank_code ~ '^[0-9]{12}$'),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 2 AND 200),
    state           text NOT NULL DEFAULT 'REQUESTED'
                    CHECK (state IN ('REQUESTED', 'APPROVED', 'REJECTED')),
    requested_by    bigint NOT NULL REFERENCES principals (id),
    requested_at    timestamptz NOT NULL DEFAULT now(),
    decided_by      bigint REFERENCES principals (id),
    decided_at      timestamptz,
    note            text,
    CONSTRAINT beneficiary_account_changes_four_eyes CHECK (decided_by <> requested_by)
);
CREATE UNIQUE INDEX beneficiary_account_changes_open
    ON beneficiary_account_changes (beneficiary_code) WHERE state = 'REQUESTED';

-- The cut-off itself is tj_settlement_cutoff (clearing/db/sql).
