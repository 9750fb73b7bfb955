-- Why: an office can be an outlet in a partner bank's branch (同城通办): a bank branch takes
-- payments for the registration hall, with its own windows and staff confined to it. Such an
-- office (kind 'branch', 银行网点) says which bank and which branch it stands in, so staff,
-- the daily report and 日结 can name it; nothing about settlement changes.

ALTER TABLE offices ADD COLUMN partner_bank text
    CHECK (partner_bank IS NULL OR length(partner_bank) BETWEEN 1 AND 50);
ALTER TABLE offices ADD COLUMN branch_name text
    CHECK (branch_name IS NULL OR length(branch_name) BETWEEN 1 AND 100);
-- an outlet names its bank and branch; another kind of office names neither. NOT VALID: an
-- office made a 'branch' before this migration keeps working until an administrator fills in
-- its bank (every new or changed row is checked)
ALTER TABLE offices ADD CONSTRAINT offices_outlet_bank CHECK (
    CASE WHEN kind = 'branch' THEN partner_bank IS NOT NULL AND branch_name IS NOT NULL
         ELSE partner_bank IS NULL AND branch_name IS NULL END
) NOT VALID;
