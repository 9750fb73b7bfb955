-- Why: the clearing core. The catalogue (who is owed what), orders and their lines, payment
-- attempts at acquirers and the payments they produced, staff and API clients, idempotency keys
-- and the task queue. The ledger and audit log follow in their own migrations.

CREATE TABLE beneficiaries (
    code          text PRIMARY KEY CHECK (code ~ '^[A-Z0-9_]{2,32}$'),
    name          text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    bank_name     text NOT NULL,
    account_no    text NOT NULL CHECK (account_no ~ '^[0-9A-Za-z-]{6,40}$'),
    account_name  text NOT NULL,
    account_kind  text NOT NULL
                  CHECK (account_kind IN ('treasury', 'nontax_fiscal', 'fund_custodial')),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE fee_items (
    code              text PRIMARY KEY CHECK (code ~ '^[A-Z0-9_]{2,32}$'),
    name_zh           text NOT NULL,
    kind              text NOT NULL CHECK (kind IN ('tax', 'nontax', 'fund')),
    beneficiary_code  text NOT NULL REFERENCES beneficiaries (code),
    active            boolean NOT NULL DEFAULT true
);

CREATE TABLE principals (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind           text NOT NULL CHECK (kind IN ('staff', 'client')),
    username       text NOT NULL CHECK (username ~ '^[a-z0-9][a-z0-9_.-]{1,63}$'),
    display_name   text NOT NULL,
    role           text NOT NULL
                   CHECK (role IN ('clerk', 'supervisor', 'finance', 'admin', 'auditor')),
    office         text,
    -- staff sign in with a password (scrypt); API clients present a bearer token (sha256 stored)
    password_hash  text,
    token_hash     bytea,
    disabled       boolean NOT NULL DEFAULT false,
    created_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT principals_username_key UNIQUE (username),
    CONSTRAINT principals_token_key UNIQUE (token_hash),
    CONSTRAINT principals_office_for_window_roles
        CHECK (role NOT IN ('clerk', 'supervisor') OR office IS NOT NULL),
    CONSTRAINT principals_credential
        CHECK ((kind = 'staff' AND password_hash IS NOT NULL)
            OR (kind = 'client' AND token_hash IS NOT NULL))
);

CREATE TABLE sessions (
    token_hash    bytea PRIMARY KEY,
    principal_id  bigint NOT NULL REFERENCES principals (id),
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE orders (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_no          text NOT NULL CHECK (order_no ~ '^[0-9A-Za-z]{8,32}$'),
    case_no           text NOT NULL,
    office            text NOT NULL,
    window_no         text NOT NULL,
    -- payer name and ID number are encrypted by the service (AES-256-GCM); only a mask is clear
    payer_name_enc    bytea NOT NULL,
    payer_id_enc      bytea NOT NULL,
    payer_id_masked   text NOT NULL,
    total_fen         bigint NOT NULL CHECK (total_fen > 0),
    state             text NOT NULL DEFAULT 'OPEN'
                      CHECK (state IN ('OPEN', 'PAYING', 'CLEARED', 'SETTLED', 'EXPIRED',
                                       'CANCELLED', 'EXCEPTION', 'REFUNDING', 'REFUNDED')),
    exception_reason  text,
    created_by        bigint NOT NULL REFERENCES principals (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    cleared_at        timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT orders_order_no_key UNIQUE (order_no)
);
CREATE INDEX orders_window_day ON orders (office, window_no, created_at);
CREATE INDEX orders_open_expiry ON orders (expires_at) WHERE state IN ('OPEN', 'PAYING');

CREATE TABLE order_lines (
    order_id          bigint NOT NULL REFERENCES orders (id),
    line_no           int NOT NULL CHECK (line_no BETWEEN 1 AND 999),
    item_code         text NOT NULL REFERENCES fee_items (code),
    beneficiary_code  text NOT NULL REFERENCES beneficiaries (code),
    amount_fen        bigint NOT NULL CHECK (amount_fen > 0),
    -- the authority's own reference: e-tax voucher, non-tax payment code, fund notice number
    reference         text,
    PRIMARY KEY (order_id, line_no)
);

CREATE TABLE payment_attempts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id      bigint NOT NULL REFERENCES orders (id),
    provider      text NOT NULL,
    out_trade_no  text NOT NULL CHECK (out_trade_no ~ '^[0-9A-Za-z]{8,32}$'),
    state         text NOT NULL DEFAULT 'CREATING'
                  CHECK (state IN ('CREATING', 'OPEN', 'SUCCEEDED', 'CLOSED', 'FAILED')),
    code_url      text,
    failure       text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT payment_attempts_out_trade_no_key UNIQUE (out_trade_no)
);
CREATE INDEX payment_attempts_order ON payment_attempts (order_id);

CREATE TABLE idempotency_keys (
    principal_id   bigint NOT NULL REFERENCES principals (id),
    key            text NOT NULL CHECK (length(key) BETWEEN 8 AND 128),
    request_hash   bytea NOT NULL,
    response_status int NOT NULL,
    response_body  jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal_id, key)
);
CREATE INDEX idempotency_keys_age ON idempotency_keys (created_at);

-- The outbox and job queue: workers lease rows with FOR UPDATE SKIP LOCKED.
CREATE TABLE tasks (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind          text NOT NULL,
    payload       jsonb NOT NULL DEFAULT '{}',
    dedupe_key    text,
    state         text NOT NULL DEFAULT 'READY'
                  CHECK (state IN ('READY', 'LEASED', 'DONE', 'DEAD')),
    run_at        timestamptz NOT NULL DEFAULT now(),
    attempts      int NOT NULL DEFAULT 0,
    max_attempts  int NOT NULL DEFAULT 8 CHECK (max_attempts > 0),
    lease_until   timestamptz,
    leased_by     text,
    last_error    text,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);
-- one live task per dedupe key (e.g. one poller per attempt, one refund per payment)
CREATE UNIQUE INDEX tasks_dedupe_key ON tasks (dedupe_key)
    WHERE dedupe_key IS NOT NULL AND state IN ('READY', 'LEASED');
CREATE INDEX tasks_due ON tasks (run_at) WHERE state IN ('READY', 'LEASED');
