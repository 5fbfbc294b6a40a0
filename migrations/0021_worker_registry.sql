-- 0021_worker_registry: live workers and their append-only audit trail.
-- Unlike Postgres there is no partition_key; lanes are stored as the sorted
-- lane names joined as CSV. event_kind is one of registered / heartbeat /
-- marked_dead / ttl_swept (not enforced). No annotation row.

-- +goose Up
CREATE TABLE ff_worker_registry (
    namespace          TEXT    NOT NULL,
    worker_instance_id TEXT    NOT NULL,
    worker_id          TEXT    NOT NULL,
    lanes              TEXT    NOT NULL,
    capabilities_csv   TEXT    NOT NULL,
    last_heartbeat_ms  INTEGER NOT NULL,
    liveness_ttl_ms    INTEGER NOT NULL,
    registered_at_ms   INTEGER NOT NULL,
    PRIMARY KEY (namespace, worker_instance_id)
);

-- Identical to the PK (redundant on SQLite, kept for parity with Postgres).
CREATE INDEX ff_worker_registry_ns_inst_idx
    ON ff_worker_registry (namespace, worker_instance_id);

CREATE TABLE ff_worker_registry_event (
    namespace          TEXT    NOT NULL,
    worker_instance_id TEXT    NOT NULL,
    event_kind         TEXT    NOT NULL,
    event_at_ms        INTEGER NOT NULL,
    reason             TEXT,
    PRIMARY KEY (namespace, worker_instance_id, event_at_ms)
);

-- +goose Down
DROP TABLE ff_worker_registry_event;
DROP TABLE ff_worker_registry;
