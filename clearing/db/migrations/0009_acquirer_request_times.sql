-- Why: UnionPay identifies a transaction by our order id and the exact request time we sent
-- with it, and its query needs both. The time cannot be derived later, so every time sent is kept
-- here, durably and shared by every process, before the request leaves.

CREATE TABLE acquirer_request_times (
    provider    text NOT NULL,
    order_id    text NOT NULL,
    sent_time   text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider, order_id, sent_time)
);
