-- 0013_budget_policy_extensions: budget scope (e.g. flow / namespace),
-- enforcement mode (e.g. strict / warn), hard and soft breach counters, the
-- last breach, and the next scheduled reset (NULL = none) with a partial
-- index for the budget-reset reconciler.

-- +goose Up
ALTER TABLE ff_budget_policy ADD COLUMN scope_type TEXT NOT NULL DEFAULT '';
ALTER TABLE ff_budget_policy ADD COLUMN scope_id TEXT NOT NULL DEFAULT '';
ALTER TABLE ff_budget_policy ADD COLUMN enforcement_mode TEXT NOT NULL DEFAULT '';
ALTER TABLE ff_budget_policy ADD COLUMN breach_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ff_budget_policy ADD COLUMN soft_breach_count INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ff_budget_policy ADD COLUMN last_breach_at_ms INTEGER;
ALTER TABLE ff_budget_policy ADD COLUMN last_breach_dim TEXT;
ALTER TABLE ff_budget_policy ADD COLUMN next_reset_at_ms INTEGER;

CREATE INDEX ff_budget_policy_reset_due_idx
    ON ff_budget_policy (partition_key, next_reset_at_ms)
    WHERE next_reset_at_ms IS NOT NULL;

INSERT INTO ff_migration_annotation (version, name, applied_at_ms, backward_compatible)
VALUES (13, '0013_budget_policy_extensions', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 1);

-- +goose Down
DELETE FROM ff_migration_annotation WHERE version = 13;
DROP INDEX ff_budget_policy_reset_due_idx;
ALTER TABLE ff_budget_policy DROP COLUMN next_reset_at_ms;
ALTER TABLE ff_budget_policy DROP COLUMN last_breach_dim;
ALTER TABLE ff_budget_policy DROP COLUMN last_breach_at_ms;
ALTER TABLE ff_budget_policy DROP COLUMN soft_breach_count;
ALTER TABLE ff_budget_policy DROP COLUMN breach_count;
ALTER TABLE ff_budget_policy DROP COLUMN enforcement_mode;
ALTER TABLE ff_budget_policy DROP COLUMN scope_id;
ALTER TABLE ff_budget_policy DROP COLUMN scope_type;
