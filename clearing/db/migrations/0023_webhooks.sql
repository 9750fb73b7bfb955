-- Why: the registration case system (不动产登记业务系统) must hear when an order is paid, settled,
-- refunded, cancelled or expired, without asking. An event is written by a trigger on the order's
-- state change, so it is in the same transaction as the change: a rolled-back change leaves no
-- event, a committed one always has its event (an outbox; docs/decisions, the webhook decision).
-- Delivery is per subscription and in order per order (webhook_deliveries); the worker that
-- sends it leases a task like any other. Without an active subscription the trigger inserts
-- nothing, so a deployment that has none pays one index probe per state change.

CREATE TABLE webhook_subscriptions (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    url           text NOT NULL CHECK (url ~ '^https?://[^\s]+$' AND length(url) <= 500),
    event_types   text[] NOT NULL
                  CHECK (cardinality(event_types) > 0
                         AND event_types <@ ARRAY['order.paid', 'order.settled', 'order.refunded',
                                                  'order.cancelled', 'order.expired']),
    active        boolean NOT NULL DEFAULT true,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    disabled_at   timestamptz
);
CREATE INDEX webhook_subscriptions_active ON webhook_subscriptions (id) WHERE active;

-- signing secrets, encrypted by the service; during a rotation a subscription has two that are
-- not expired, and every delivery is signed with each of them
CREATE TABLE webhook_secrets (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id  bigint NOT NULL REFERENCES webhook_subscriptions (id),
    secret_enc       bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    -- NULL while it is the current secret; a rotated-out secret signs until then
    expires_at       timestamptz
);
CREATE INDEX webhook_secrets_subscription ON webhook_secrets (subscription_id);

-- the outbox: one row per event, its body fixed when it happened (a re-send sends the same body)
CREATE TABLE webhook_events (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id     text NOT NULL,
    type         text NOT NULL,
    order_id     bigint NOT NULL REFERENCES orders (id),
    occurred_at  timestamptz NOT NULL,
    body         jsonb NOT NULL,
    CONSTRAINT webhook_events_event_id_key UNIQUE (event_id)
);
CREATE INDEX webhook_events_order ON webhook_events (order_id, id);

-- one per event and subscription. WAITING: an earlier event of the same order has not reached
-- this subscriber yet; it becomes PENDING (with a task) when that one is delivered.
CREATE TABLE webhook_deliveries (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_row        bigint NOT NULL REFERENCES webhook_events (id),
    subscription_id  bigint NOT NULL REFERENCES webhook_subscriptions (id),
    order_id         bigint NOT NULL REFERENCES orders (id),
    state            text NOT NULL DEFAULT 'PENDING'
                     CHECK (state IN ('PENDING', 'WAITING', 'DELIVERED', 'DEAD')),
    attempts         int NOT NULL DEFAULT 0,
    last_attempt_at  timestamptz,
    next_attempt_at  timestamptz,
    last_status      int,
    last_error       text,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT webhook_deliveries_once UNIQUE (event_row, subscription_id)
);
CREATE INDEX webhook_deliveries_stream ON webhook_deliveries (subscription_id, order_id, id)
    WHERE state <> 'DELIVERED';
CREATE INDEX webhook_deliveries_state ON webhook_deliveries (state, id);

-- The outbox is tj_webhook_outbox (clearing/db/sql): one statement writes the event (only
-- when somebody subscribes to its type), a delivery per such subscription and a task per
-- delivery, from a trigger on the order's state.
