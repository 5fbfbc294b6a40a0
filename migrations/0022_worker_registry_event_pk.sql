-- 0022_worker_registry_event_pk: widen the ff_worker_registry_event PK with
-- event_kind so a register and a heartbeat in the same millisecond don't
-- collide. SQLite cannot alter a PK, so the table is rebuilt (same columns,
-- same order) and renamed. No annotation row.

-- +goose Up
CREATE TABLE ff_worker_registry_event_new (
    namespace          TEXT    NOT NULL,
    worker_instance_id TEXT    NOT NULL,
    event_kind         TEXT    NOT NULL,
    event_at_ms        INTEGER NOT NULL,
    reason             TEXT,
    PRIMARY KEY (namespace, worker_instance_id, event_at_ms, event_kind)
);

INSERT INTO ff_worker_registry_event_new
    (namespace, worker_instance_id, event_kind, event_at_ms, reason)
SELECT namespace, worker_instance_id, event_kind, event_at_ms, reason
FROM ff_worker_registry_event;

DROP TABLE ff_worker_registry_event;

ALTER TABLE ff_worker_registry_event_new RENAME TO ff_worker_registry_event;

-- +goose Down
-- Restore the 0021 PK. Rows that differ only in event_kind cannot be
-- represented by it: the copy then fails and the transaction rolls back.
CREATE TABLE ff_worker_registry_event_old (
    namespace          TEXT    NOT NULL,
    worker_instance_id TEXT    NOT NULL,
    event_kind         TEXT    NOT NULL,
    event_at_ms        INTEGER NOT NULL,
    reason             TEXT,
    PRIMARY KEY (namespace, worker_instance_id, event_at_ms)
);

INSERT INTO ff_worker_registry_event_old
    (namespace, worker_instance_id, event_kind, event_at_ms, reason)
SELECT namespace, worker_instance_id, event_kind, event_at_ms, reason
FROM ff_worker_registry_event;

DROP TABLE ff_worker_registry_event;

ALTER TABLE ff_worker_registry_event_old RENAME TO ff_worker_registry_event;
