-- 0016_started_at_ms: when the execution was first claimed; set once and
-- never overwritten by retries or reclaims. (There is no 0015: it was
-- reserved for the claim-grant table, which landed as 0017.)

-- +goose Up
ALTER TABLE ff_exec_core ADD COLUMN started_at_ms INTEGER;

-- Backfill from the lowest-attempt_index attempt that has a started_at_ms
-- (ordered by attempt_index, not MIN of the timestamp). No-op on a fresh DB.
UPDATE ff_exec_core
SET started_at_ms = (
    SELECT a.started_at_ms
    FROM ff_attempt AS a
    WHERE a.partition_key = ff_exec_core.partition_key
      AND a.execution_id = ff_exec_core.execution_id
      AND a.started_at_ms IS NOT NULL
    ORDER BY a.attempt_index ASC
    LIMIT 1
)
WHERE started_at_ms IS NULL
  AND EXISTS (
    SELECT 1
    FROM ff_attempt AS a
    WHERE a.partition_key = ff_exec_core.partition_key
      AND a.execution_id = ff_exec_core.execution_id
      AND a.started_at_ms IS NOT NULL
);

INSERT INTO ff_migration_annotation (version, name, applied_at_ms, backward_compatible)
VALUES (16, '0016_started_at_ms', CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER), 1);

-- +goose Down
DELETE FROM ff_migration_annotation WHERE version = 16;
ALTER TABLE ff_exec_core DROP COLUMN started_at_ms;
