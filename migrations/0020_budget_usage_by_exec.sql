-- 0020_budget_usage_by_exec: per-execution attribution ledger for budget
-- spend, so a budget can be released per execution. (0019_flow_summary is
-- Postgres-only; see .sqlite-skip.) The annotation row uses second
-- precision, as upstream does.

-- +goose Up
CREATE TABLE ff_budget_usage_by_exec (
    partition_key  INTEGER NOT NULL,
    budget_id      TEXT    NOT NULL,
    execution_id   TEXT    NOT NULL,
    dimensions_key TEXT    NOT NULL,
    delta_total    INTEGER NOT NULL DEFAULT 0,
    updated_at_ms  INTEGER NOT NULL,
    PRIMARY KEY (partition_key, budget_id, execution_id, dimensions_key)
);

-- A prefix of the PK; used by release.
CREATE INDEX ff_budget_usage_by_exec_release_idx
    ON ff_budget_usage_by_exec (partition_key, budget_id, execution_id);

INSERT INTO ff_migration_annotation (version, name, applied_at_ms, backward_compatible)
VALUES (20, '0020_budget_usage_by_exec', CAST(strftime('%s','now') AS INTEGER) * 1000, 1);

-- +goose Down
DELETE FROM ff_migration_annotation WHERE version = 20;
DROP TABLE ff_budget_usage_by_exec;
