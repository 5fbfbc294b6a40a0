-- 0005_timeout_scanners: what to do when a suspension times out
-- (fail / cancel / expire / auto-resume / escalate; NULL is treated as fail).

-- +goose Up
ALTER TABLE ff_suspension_current ADD COLUMN timeout_behavior TEXT;

INSERT INTO ff_migration_annotation (version, name, applied_at_ms, backward_compatible)
VALUES (5, '0005_timeout_scanners', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 1);

-- +goose Down
DELETE FROM ff_migration_annotation WHERE version = 5;
ALTER TABLE ff_suspension_current DROP COLUMN timeout_behavior;
