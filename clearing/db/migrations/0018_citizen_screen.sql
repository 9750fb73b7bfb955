-- Why: the citizen's screen (客显屏) that faces the window, and the 政务服务"好差评" ratings it
-- collects (国办发〔2019〕51号: every window rates "一次一评"). A screen pairs to one window with a
-- short-lived code shown on the clerk's screen and then holds a device credential of its own,
-- never a staff session; the clerk's screen says which order is on display at its window; one
-- rating per order, kept with office, window and clerk for the daily report.

-- One live code per window; a code is unique while it lives (expired ones are deleted first).
CREATE TABLE display_pairing_codes (
    code        text NOT NULL CHECK (code ~ '^[0-9]{6}$'),
    office      text NOT NULL,
    window_no   text NOT NULL,
    issued_by   bigint NOT NULL REFERENCES principals (id),
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    CONSTRAINT display_pairing_codes_code_key PRIMARY KEY (code),
    CONSTRAINT display_pairing_codes_window_key UNIQUE (office, window_no)
);

-- A paired screen: its credential is a random token, only the hash is kept (as sessions).
CREATE TABLE display_devices (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    token_hash  bytea NOT NULL,
    office      text NOT NULL,
    window_no   text NOT NULL,
    paired_by   bigint NOT NULL REFERENCES principals (id),
    paired_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at  timestamptz,
    CONSTRAINT display_devices_token_key UNIQUE (token_hash)
);
-- one live screen per window: pairing again revokes the old one in the same transaction
CREATE UNIQUE INDEX display_devices_one_per_window
    ON display_devices (office, window_no) WHERE revoked_at IS NULL;

-- What the window's screen shows now: the order the clerk has open there, or nothing.
CREATE TABLE display_windows (
    office      text NOT NULL,
    window_no   text NOT NULL,
    order_id    bigint REFERENCES orders (id),
    clerk_id    bigint NOT NULL REFERENCES principals (id),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (office, window_no)
);

CREATE TABLE service_ratings (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    order_id    bigint NOT NULL REFERENCES orders (id),
    office      text NOT NULL,
    window_no   text NOT NULL,
    clerk_id    bigint NOT NULL REFERENCES principals (id),
    device_id   bigint NOT NULL REFERENCES display_devices (id),
    grade       text NOT NULL CHECK (grade IN ('very_satisfied', 'satisfied',
                    'basically_satisfied', 'dissatisfied', 'very_dissatisfied')),
    reason      text CHECK (reason IS NULL OR length(reason) BETWEEN 1 AND 200),
    rated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT service_ratings_order_key UNIQUE (order_id),
    -- a reason is asked for 差评 only (不满意, 非常不满意), for the follow-up call
    CONSTRAINT service_ratings_reason_for_bad
        CHECK (reason IS NULL OR grade IN ('dissatisfied', 'very_dissatisfied'))
);
CREATE INDEX service_ratings_day ON service_ratings (rated_at);
