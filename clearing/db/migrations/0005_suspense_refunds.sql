-- Why: money that reached us but cannot be split (amount mismatch, order closed, paid twice)
-- goes back to the citizen automatically. One refund per such payment, idempotent at the
-- acquirer by its out_refund_no, and its ledger entry posted exactly once when it succeeds.

CREATE TABLE refunds (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    payment_id          bigint NOT NULL REFERENCES payments (id),
    out_refund_no       text NOT NULL,
    amount_fen          bigint NOT NULL CHECK (amount_fen > 0),
    reason              text NOT NULL,
    state               text NOT NULL DEFAULT 'REQUESTED'
                        CHECK (state IN ('REQUESTED', 'PROCESSING', 'SUCCESS', 'CLOSED', 'ABNORMAL')),
    provider_refund_id  text,
    entry_id            bigint REFERENCES journal_entries (id),
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT refunds_out_refund_no_key UNIQUE (out_refund_no),
    CONSTRAINT refunds_posted_once CHECK ((state = 'SUCCESS') = (entry_id IS NOT NULL))
);
CREATE INDEX refunds_payment ON refunds (payment_id);
