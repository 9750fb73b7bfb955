-- Why: the double-entry ledger guards itself. Every journal entry sums to zero (a deferred
-- constraint trigger checks it at commit), postings and entries are append-only (triggers refuse
-- UPDATE, DELETE and TRUNCATE), and balances are derived from postings instead of kept in a
-- balance row, so that captures, which all debit the same acquirer receivable, never queue behind
-- one row lock (docs/decisions/0002-derived-balances.md).

CREATE TABLE ledger_accounts (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    code       text NOT NULL CHECK (code ~ '^[a-z_]+(:[A-Za-z0-9_]+)?$'),
    name       text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('asset', 'liability', 'suspense', 'expense')),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT ledger_accounts_code_key UNIQUE (code)
);

CREATE TABLE journal_entries (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind        text NOT NULL CHECK (kind IN ('CAPTURE', 'SUSPENSE', 'REFUND', 'ADJUSTMENT')),
    order_id    bigint REFERENCES orders (id),
    memo        text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX journal_entries_order ON journal_entries (order_id);

-- Signed amounts: a debit is positive, a credit negative; an entry's postings sum to zero.
CREATE TABLE postings (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entry_id    bigint NOT NULL REFERENCES journal_entries (id),
    account_id  bigint NOT NULL REFERENCES ledger_accounts (id),
    amount_fen  bigint NOT NULL CHECK (amount_fen <> 0),
    order_id    bigint,
    line_no     int,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX postings_entry ON postings (entry_id);
CREATE INDEX postings_account ON postings (account_id, id);

-- Defined in clearing/db/sql: tj_entry_must_balance (every entry balances at commit),
-- tj_append_only (postings and entries are append-only), the account_balances view and
-- tj_beneficiary_account (every beneficiary gets its payable account).

INSERT INTO ledger_accounts (code, name, kind) VALUES
    ('receivable:wechatpay', '应收 微信支付', 'asset'),
    ('receivable:alipay', '应收 支付宝', 'asset'),
    ('receivable:unionpay', '应收 银联', 'asset'),
    ('receivable:pos', '应收 银行卡收单', 'asset'),
    ('suspense', '待查明款项（挂账）', 'suspense'),
    ('refunds_payable', '应退款项', 'liability');

-- Payments: one row per acquirer transaction, whatever became of it.
CREATE TABLE payments (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider         text NOT NULL,
    provider_txn_id  text NOT NULL,
    out_trade_no     text NOT NULL,
    order_id         bigint REFERENCES orders (id),
    attempt_id       bigint REFERENCES payment_attempts (id),
    amount_fen       bigint NOT NULL CHECK (amount_fen > 0),
    outcome          text NOT NULL CHECK (outcome IN ('CLEARED', 'SUSPENSE')),
    -- why the money went to suspense: AMOUNT_MISMATCH, ORDER_NOT_OPEN, ORDER_UNKNOWN, ALREADY_PAID
    reason           text,
    source           text NOT NULL CHECK (source IN ('notify', 'query')),
    paid_at          timestamptz NOT NULL,
    recorded_at      timestamptz NOT NULL DEFAULT now(),
    entry_id         bigint NOT NULL REFERENCES journal_entries (id),
    CONSTRAINT payments_provider_txn_key UNIQUE (provider, provider_txn_id),
    CONSTRAINT payments_reason_for_suspense CHECK ((outcome = 'SUSPENSE') = (reason IS NOT NULL))
);
CREATE INDEX payments_order ON payments (order_id);
CREATE INDEX payments_recorded ON payments (recorded_at);
