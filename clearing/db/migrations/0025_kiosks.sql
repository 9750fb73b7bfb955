-- Why: the self-service kiosk (自助缴费终端) lets a citizen pay an order without a clerk. A kiosk is
-- a device, not a person: an administrator registers it for one office and gets a one-time
-- enrolment code; the kiosk spends the code and from then on holds a random token (only its hash
-- is kept, as staff sessions and citizen's screens are). Revoking it stops it at once. Each kiosk
-- has at most one order open on its screen (what the citizen found), so that its later requests
-- name no order at all; wrong lookups are counted here, across every API process, to lock out
-- guessing of the ID's last characters.

CREATE TABLE kiosks (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name              text NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    office            text NOT NULL REFERENCES offices (code),
    -- the enrolment code's hash until it is spent (or replaced); the device token's afterwards
    enrol_code_hash   bytea,
    enrol_expires_at  timestamptz,
    token_hash        bytea,
    created_by        bigint NOT NULL REFERENCES principals (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    enrolled_at       timestamptz,
    last_seen_at      timestamptz,
    revoked_at        timestamptz,
    revoked_by        bigint REFERENCES principals (id),
    -- the order on the kiosk's screen, and when the citizen found it
    order_id          bigint REFERENCES orders (id),
    order_opened_at   timestamptz,
    CONSTRAINT kiosks_token_key UNIQUE (token_hash),
    CONSTRAINT kiosks_enrol_code_key UNIQUE (enrol_code_hash),
    CONSTRAINT kiosks_name_key UNIQUE (office, name)
);

-- every wrong lookup (unknown 业务受理号, wrong ID characters, another office's order), by kiosk
-- and by the case number tried: a guesser is stopped per kiosk and per case, whichever first
CREATE TABLE kiosk_lookup_failures (
    kiosk_id    bigint NOT NULL REFERENCES kiosks (id),
    case_no     text NOT NULL,
    failed_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX kiosk_lookup_failures_kiosk ON kiosk_lookup_failures (kiosk_id, failed_at);
CREATE INDEX kiosk_lookup_failures_case ON kiosk_lookup_failures (case_no, failed_at);

-- a kiosk prints the original receipt of an order it took the payment for: a print is then
-- attributed to the kiosk instead of a person
ALTER TABLE receipt_prints ALTER COLUMN printed_by DROP NOT NULL;
ALTER TABLE receipt_prints ADD COLUMN printed_by_kiosk bigint REFERENCES kiosks (id);
ALTER TABLE receipt_prints ADD CONSTRAINT receipt_prints_printer
    CHECK ((printed_by IS NULL) <> (printed_by_kiosk IS NULL));
