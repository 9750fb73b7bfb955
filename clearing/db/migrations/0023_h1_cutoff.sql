-- Why: two things a newcomer's walkthrough found.
-- 1. A declined card left its attempt OPEN and the window waiting forever. The attempt now fails
--    with the terminal's reason, which the window shows in Chinese (余额不足, 密码错误): the
--    attempt keeps it beside the channel's code.
ALTER TABLE payment_attempts ADD COLUMN failure_zh text CHECK (length(failure_zh) <= 200);
