-- Why: two things a newcomer's walkthrough found.
-- 1. A declined card left its attempt OPEN and the window waiting forever. The attempt now fails
--    with the terminal's reason, which the window shows in Chinese (余额不足, 密码错误): the
--    attempt keeps it beside the channel's code.
ALTER TABLE payment_attempts ADD COLUMN failure_zh text CHECK (length(failure_zh) <= 200);

-- 2. A daily account was cut again at every scheduled run after its cut-off time (five batches
--    between 23:29 and 23:37 Beijing time, one per new payment): the only condition was "it is
--    past 15:30 now". A daily account is now cut once per business day, at its cut-off instant
--    (cutoff_local, Beijing time), and gathers the lines paid before that instant; a line paid
--    after it waits for the next day's cut-off, so a refund asked for that evening finds the money
--    still in our account. cut_through records the last cut-off instant served per account (held
--    or empty accounts included: a hold released at 17:00 waits for tomorrow's cut-off too).
--    Real-time accounts, and a cut-off of every account by hand, gather up to now as before.
ALTER TABLE beneficiaries ADD COLUMN cut_through timestamptz;

-- (tj_settlement_cutoff: clearing/db/sql/tj_settlement_cutoff.sql)
