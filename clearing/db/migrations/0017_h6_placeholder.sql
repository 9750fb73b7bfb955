-- Why: a placeholder that keeps migration numbers gapless on this branch until the migration
-- numbered 0017 on main lands; delete this file when merging (it does nothing).
SELECT 1;
