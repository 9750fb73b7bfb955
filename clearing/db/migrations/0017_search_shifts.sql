-- Why: staff find past orders and close their shifts.
--
-- Search by the payer's ID number must work without the number in clear: orders get a keyed
-- hash of the normalized number (HMAC-SHA256 with its own key file, never the encryption key).
-- Orders made before this migration have no hash and are NOT findable by ID number until
-- `tongjiao pii backfill-search` has filled it (it decrypts each number with the PII key and
-- hashes it); every other search key works for them at once.
--
-- 日结/交班: a shift is one person's work at one window of an office, from the first activity
-- after their previous close to the moment they close it. What a close counted is frozen: each
-- counted item (order issued, payment received, cancellation, refund requested) is claimed by
-- exactly one shift in shift_items (a unique key), and the totals are stored on the shift, never
-- recomputed. Anything not yet claimed — including a row whose transaction committed just after
-- a close with an earlier timestamp — belongs to the next shift. A supervisor's 轧账 of an
-- office's day stores both sides (the shifts' frozen receipts and the ledger's) and their
-- difference, which is shown, not hidden.
--
-- Payments are attributed to whoever started the payment attempt at the window (started_by,
-- the actor as in the audit log); attempts from before this migration fall back to the order's
-- creator.

ALTER TABLE orders ADD COLUMN payer_id_hmac bytea;
CREATE INDEX orders_payer_id_hmac ON orders (payer_id_hmac) WHERE payer_id_hmac IS NOT NULL;
CREATE INDEX orders_case_no ON orders (case_no);
CREATE INDEX orders_office_created ON orders (office, created_at);

ALTER TABLE payment_attempts ADD COLUMN started_by text;

-- Shifts count activity from the moment this migration ran: a person's first close does not
-- sweep up everything they did before shifts existed.
CREATE TABLE shifts_epoch (
    one    boolean PRIMARY KEY DEFAULT true CHECK (one),
    since  timestamptz NOT NULL
);
INSERT INTO shifts_epoch (since) VALUES (now());

CREATE TABLE shifts (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    principal_id   bigint NOT NULL REFERENCES principals (id),
    office         text NOT NULL,
    window_no      text NOT NULL,
    opened_at      timestamptz NOT NULL,
    closed_at      timestamptz NOT NULL,
    orders_count   int NOT NULL CHECK (orders_count >= 0),
    orders_fen     bigint NOT NULL CHECK (orders_fen >= 0),
    received_count int NOT NULL CHECK (received_count >= 0),
    received_fen   bigint NOT NULL CHECK (received_fen >= 0),
    cancelled_count int NOT NULL CHECK (cancelled_count >= 0),
    cancelled_fen  bigint NOT NULL CHECK (cancelled_fen >= 0),
    refunds_count  int NOT NULL CHECK (refunds_count >= 0),
    refunds_fen    bigint NOT NULL CHECK (refunds_fen >= 0),
    -- per channel: [{"channel": "wechatpay", "count": 2, "amount_fen": 123}, ...]
    by_channel     jsonb NOT NULL,
    refunds_by_channel jsonb NOT NULL,
    CONSTRAINT shifts_order CHECK (opened_at <= closed_at)
);
CREATE INDEX shifts_office_closed ON shifts (office, closed_at);
CREATE INDEX shifts_principal ON shifts (principal_id, closed_at);

CREATE TABLE shift_items (
    shift_id    bigint NOT NULL REFERENCES shifts (id),
    kind        text NOT NULL CHECK (kind IN ('order', 'payment', 'cancel', 'refund')),
    ref_id      bigint NOT NULL,
    channel     text,
    amount_fen  bigint NOT NULL CHECK (amount_fen > 0),
    at          timestamptz NOT NULL,
    -- an item is counted by one shift only
    CONSTRAINT shift_items_once UNIQUE (kind, ref_id)
);
CREATE INDEX shift_items_shift ON shift_items (shift_id);

-- frozen: a closed shift and what it counted are never changed (tj_append_only,
-- clearing/db/sql), nor is a closed office day

CREATE TABLE office_days (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    office         text NOT NULL,
    business_date  date NOT NULL,
    closed_by      bigint NOT NULL REFERENCES principals (id),
    closed_at      timestamptz NOT NULL,
    shifts_count   int NOT NULL,
    shifts_fen     bigint NOT NULL,
    ledger_fen     bigint NOT NULL,
    difference_fen bigint NOT NULL,
    -- per channel: shifts' and ledger's count and amount, and the difference
    by_channel     jsonb NOT NULL,
    note           text,
    CONSTRAINT office_days_once UNIQUE (office, business_date),
    CONSTRAINT office_days_difference CHECK (difference_fen = shifts_fen - ledger_fen),
    CONSTRAINT office_days_note_on_difference CHECK (difference_fen = 0 OR note IS NOT NULL)
);
