-- Why: signing in, hardened for 等保三级 8.1.4.1 (身份鉴别): a password an administrator hands out must be
-- changed at first sign-in, a new password may not repeat the last five, repeated failures lock
-- the name for a while (the name as typed, known or not, so that a lock tells an outsider nothing
-- about which names exist), many failures from one address are throttled, and a session that sits
-- idle ends. Forward-only; existing users keep their passwords and are not forced to change.

ALTER TABLE principals ADD COLUMN IF NOT EXISTS must_change_password boolean NOT NULL DEFAULT false;
ALTER TABLE principals ADD COLUMN IF NOT EXISTS password_changed_at timestamptz;

-- the hashes of an account's recent passwords, newest first by set_at; trimmed to five on change
CREATE TABLE password_history (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    principal_id   bigint NOT NULL REFERENCES principals (id),
    password_hash  text NOT NULL,
    set_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX password_history_by_principal ON password_history (principal_id, set_at DESC);

-- existing passwords start each account's history
INSERT INTO password_history (principal_id, password_hash)
    SELECT id, password_hash FROM principals WHERE password_hash IS NOT NULL;

-- one row per failed sign-in; a success deletes the name's rows, so the count since is the
-- run of consecutive failures
CREATE TABLE login_failures (
    id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username  text NOT NULL,
    address   text NOT NULL,
    at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX login_failures_by_username ON login_failures (username, at);
CREATE INDEX login_failures_by_address ON login_failures (address, at);

CREATE TABLE login_locks (
    username      text PRIMARY KEY,
    locked_at     timestamptz NOT NULL DEFAULT now(),
    locked_until  timestamptz NOT NULL
);

-- sliding idle expiry: a request touches last_seen_at at most once a minute
ALTER TABLE sessions ADD COLUMN last_seen_at timestamptz NOT NULL DEFAULT now();
