-- Why: every way a citizen pays at the window, and refunds staff ask for.
-- Attempts now say how the citizen pays (QR, payment code, card on a terminal) and, for payment
-- codes and cards, by when an unknown outcome must be reversed so that nobody is charged for an
-- order we consider unpaid. Payments keep the channel's details (card mask, RRN, ...) and may be
-- learned synchronously (a payment code answered SUCCESS at once). Refunds are requested by a
-- supervisor and approved by a different finance user; each refunded line is reversed exactly.

ALTER TABLE payment_attempts
    ADD COLUMN method text NOT NULL DEFAULT 'qr' CHECK (method IN ('qr', 'code', 'card')),
    ADD COLUMN terminal_id text,
    ADD COLUMN auth_code_masked text,
    ADD COLUMN reverse_after timestamptz,
    ADD CONSTRAINT payment_attempts_card_has_terminal
        CHECK (method <> 'card' OR terminal_id IS NOT NULL);
ALTER TABLE payment_attempts DROP CONSTRAINT payment_attempts_state_check;
ALTER TABLE payment_attempts ADD CONSTRAINT payment_attempts_state_check
    CHECK (state IN ('CREATING', 'OPEN', 'SUCCEEDED', 'CLOSED', 'FAILED', 'REVERSED'));

ALTER TABLE payments DROP CONSTRAINT payments_source_check;
ALTER TABLE payments ADD CONSTRAINT payments_source_check
    CHECK (source IN ('notify', 'query', 'sync'));
ALTER TABLE payments ADD COLUMN details jsonb NOT NULL DEFAULT '{}';

-- set by settlement (paid out to the beneficiary); a refund of a settled line is clawed back
ALTER TABLE order_lines ADD COLUMN settled_at timestamptz;

CREATE TABLE refund_requests (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id        bigint NOT NULL REFERENCES orders (id),
    payment_id      bigint NOT NULL REFERENCES payments (id),
    amount_fen      bigint NOT NULL CHECK (amount_fen > 0),
    reason          text NOT NULL CHECK (length(reason) BETWEEN 1 AND 200),
    state           text NOT NULL DEFAULT 'REQUESTED'
                    CHECK (state IN ('REQUESTED', 'REJECTED', 'APPROVED', 'PROCESSING',
                                     'ABNORMAL', 'SUCCEEDED', 'FAILED')),
    requested_by    bigint NOT NULL REFERENCES principals (id),
    decided_by      bigint REFERENCES principals (id),
    decision_note   text,
    out_refund_no   text NOT NULL,
    provider_refund_id text,
    entry_id        bigint REFERENCES journal_entries (id),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT refund_requests_out_refund_no_key UNIQUE (out_refund_no),
    -- the four-eyes rule lives in the database too
    CONSTRAINT refund_requests_two_people CHECK (decided_by IS NULL OR decided_by <> requested_by),
    CONSTRAINT refund_requests_posted_once CHECK ((state = 'SUCCEEDED') = (entry_id IS NOT NULL))
);
CREATE INDEX refund_requests_order ON refund_requests (order_id);

CREATE TABLE refund_request_lines (
    refund_id   bigint NOT NULL REFERENCES refund_requests (id),
    order_id    bigint NOT NULL,
    line_no     int NOT NULL,
    amount_fen  bigint NOT NULL CHECK (amount_fen > 0),
    PRIMARY KEY (refund_id, line_no),
    FOREIGN KEY (order_id, line_no) REFERENCES order_lines (order_id, line_no)
);

-- a line can be refunded once: no two live or finished requests may cover it
CREATE TABLE refunded_lines (
    order_id    bigint NOT NULL,
    line_no     int NOT NULL,
    refund_id   bigint NOT NULL REFERENCES refund_requests (id),
    PRIMARY KEY (order_id, line_no)
);

INSERT INTO ledger_accounts (code, name, kind)
SELECT 'clawback:' || code, '应追回 ' || name, 'asset' FROM beneficiaries
ON CONFLICT (code) DO NOTHING;

-- tj_beneficiary_account now opens the clawback account too; tj_capture takes the channel's
-- details (p_details) and asks tj_capture_reason whether it may split (clearing/db/sql).
