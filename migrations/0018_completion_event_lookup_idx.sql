-- 0018_completion_event_lookup_idx: point lookup of a completion event by
-- execution and time (parity with Postgres). No annotation row.

-- +goose Up
CREATE INDEX IF NOT EXISTS ff_completion_event_lookup_idx
    ON ff_completion_event (partition_key, execution_id, occurred_at_ms);

-- +goose Down
DROP INDEX IF EXISTS ff_completion_event_lookup_idx;
