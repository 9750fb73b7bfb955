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

CREATE FUNCTION tj_entry_must_balance() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_sum bigint;
    v_n   int;
BEGIN
    SELECT coalesce(sum(amount_fen), 0), count(*) INTO v_sum, v_n
      FROM postings WHERE entry_id = NEW.entry_id;
    IF v_sum <> 0 OR v_n < 2 THEN
        RAISE EXCEPTION 'journal entry % does not balance (sum % fen over % postings)',
            NEW.entry_id, v_sum, v_n
            USING ERRCODE = 'check_violation', CONSTRAINT = 'journal_entry_balanced';
    END IF;
    RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER postings_balance
    AFTER INSERT ON postings
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION tj_entry_must_balance();

CREATE FUNCTION tj_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege', CONSTRAINT = TG_TABLE_NAME || '_append_only';
END $$;

CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
    FOR EACH ROW EXECUTE FUNCTION tj_append_only();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION tj_append_only();
CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE ON journal_entries
    FOR EACH ROW EXECUTE FUNCTION tj_append_only();
CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
    FOR EACH STATEMENT EXECUTE FUNCTION tj_append_only();

CREATE VIEW account_balances AS
SELECT a.id, a.code, a.name, a.kind, coalesce(sum(p.amount_fen), 0)::bigint AS balance_fen
  FROM ledger_accounts a LEFT JOIN postings p ON p.account_id = a.id
 GROUP BY a.id;

-- Every beneficiary has a payable account the split credits.
CREATE FUNCTION tj_beneficiary_account() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO ledger_accounts (code, name, kind)
    VALUES ('payable:' || NEW.code, '应付 ' || NEW.name, 'liability')
    ON CONFLICT (code) DO NOTHING;
    RETURN NEW;
END $$;
CREATE TRIGGER beneficiaries_account AFTER INSERT ON beneficiaries
    FOR EACH ROW EXECUTE FUNCTION tj_beneficiary_account();

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
