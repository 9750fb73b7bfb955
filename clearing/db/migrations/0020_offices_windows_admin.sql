-- Why: a clerk's window was whatever the browser said (a fresh browser said W01 for everybody), so
-- orders and the per-window report lines landed on the wrong window. Offices and their windows,
-- each with the card terminal standing at it, become data an administrator keeps; a clerk is
-- assigned one window and the server takes the order's window from that assignment.
-- An administrator's password reset (and a new account) obliges the user to choose a new password
-- at the next sign-in: must_change_password (the sign-in side enforces it).

CREATE TABLE offices (
    code        text PRIMARY KEY CHECK (code ~ '^[A-Za-z0-9_-]{1,32}$'),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    -- a registration hall, a service centre in a district, a bank branch that takes payments
    kind        text NOT NULL DEFAULT 'hall' CHECK (kind IN ('hall', 'centre', 'branch')),
    active      boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE windows (
    office_code  text NOT NULL REFERENCES offices (code),
    code         text NOT NULL CHECK (code ~ '^[A-Za-z0-9_-]{1,16}$'),
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 50),
    -- the bank's card terminal at this window; one terminal stands at one window only
    terminal_id  text CHECK (terminal_id ~ '^[A-Za-z0-9]{1,16}$'),
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (office_code, code),
    CONSTRAINT windows_terminal_key UNIQUE (terminal_id)
);

-- Offices and windows already named by existing staff and orders become rows named by their
-- code, so nothing that worked yesterday stops; an administrator gives them their proper names.
INSERT INTO offices (code, name)
SELECT DISTINCT office, office FROM (
    SELECT office FROM principals WHERE office IS NOT NULL
    UNION SELECT office FROM orders
) known
WHERE office ~ '^[A-Za-z0-9_-]{1,32}$'
ON CONFLICT DO NOTHING;

INSERT INTO windows (office_code, code, name)
SELECT DISTINCT office, window_no, window_no FROM orders
WHERE office ~ '^[A-Za-z0-9_-]{1,32}$' AND window_no ~ '^[A-Za-z0-9_-]{1,16}$'
ON CONFLICT DO NOTHING;

ALTER TABLE principals ADD COLUMN IF NOT EXISTS must_change_password boolean NOT NULL DEFAULT false;
ALTER TABLE principals ADD COLUMN window_code text;
-- a window belongs to the principal's own office; NULL (no window) is allowed for every role and
-- refused at the moment a clerk takes an order
ALTER TABLE principals ADD CONSTRAINT principals_window_fkey
    FOREIGN KEY (office, window_code) REFERENCES windows (office_code, code);
ALTER TABLE principals ADD CONSTRAINT principals_window_needs_office
    CHECK (window_code IS NULL OR office IS NOT NULL);
