package backend

import (
	"context"
	"database/sql"
	"errors"
	"math"

	"github.com/ffsqlite/ffsqlite/internal/codec"
)

// The worker registry (server-api.md §4.14): live worker registrations in
// ff_worker_registry and their audit trail in ff_worker_registry_event.
// ffsqlite writes two of upstream's operations, the ones its product uses:
// RegisterWorker (the HTTP worker loop registers every claiming worker)
// and the TTL sweep (the worker-ttl reconciler); `inspect workers` and the
// dashboard read the registry through the inspect package. Heartbeat,
// mark-dead and list have no caller here and are not provided. Unlike
// upstream, which runs these in plain deferred transactions without retry,
// every write here goes through write (BEGIN IMMEDIATE + busy retry).
// Times come from the engine clock.

// DefaultWorkerSweepBatch is how many expired registrations one TTL sweep
// deletes at most when the caller passes no limit.
const DefaultWorkerSweepBatch = 1000

// RegisterWorkerArgs registers (or refreshes) a worker instance. Lanes and
// capabilities are stored sorted and de-duplicated, comma-joined.
type RegisterWorkerArgs struct {
	Namespace        string   `json:"namespace"`
	WorkerID         string   `json:"worker_id"`
	WorkerInstanceID string   `json:"worker_instance_id"`
	Lanes            []string `json:"lanes"`
	Capabilities     []string `json:"capabilities"`
	LivenessTTLMS    uint64   `json:"liveness_ttl_ms"`
}

// RegisterWorkerOutcome is Registered for a new instance, Refreshed when
// the (namespace, instance) row already existed.
type RegisterWorkerOutcome string

// RegisterWorker outcomes.
const (
	WorkerRegistered RegisterWorkerOutcome = "Registered"
	WorkerRefreshed  RegisterWorkerOutcome = "Refreshed"
)

// RegisterWorker inserts or refreshes a registration (heartbeat = now,
// lanes, capabilities and TTL replaced) and appends a "registered" event.
// Re-registering an instance id under another worker_id is refused.
func (b *Backend) RegisterWorker(ctx context.Context, a RegisterWorkerArgs) (RegisterWorkerOutcome, error) {
	const op = "register_worker"
	if err := checkIdent(op, "namespace", a.Namespace); err != nil {
		return "", err
	}
	if err := validateWorkerID("worker_id", a.WorkerID); err != nil {
		return "", engineOp(err, op)
	}
	if err := validateWorkerID("worker_instance_id", a.WorkerInstanceID); err != nil {
		return "", engineOp(err, op)
	}
	if a.LivenessTTLMS == 0 || a.LivenessTTLMS > math.MaxInt64/2 {
		return "", validation(op, "invalid_input", "liveness_ttl_ms: must be in 1..=%d", int64(math.MaxInt64/2))
	}
	laneList, err := laneSet("lanes", a.Lanes)
	if err != nil {
		return "", engineOp(err, op)
	}
	capList, err := normalizeCapabilities(a.Capabilities)
	if err != nil {
		return "", engineOp(err, op)
	}
	lanes, caps := codec.JoinSet(laneList), codec.JoinSet(capList)
	var out RegisterWorkerOutcome
	err = b.write(ctx, op, func(tx *wtx) error {
		now := b.Now()
		var existing string
		err := tx.QueryRowContext(ctx, `SELECT worker_id FROM ff_worker_registry
			WHERE namespace = ? AND worker_instance_id = ?`, a.Namespace, a.WorkerInstanceID).Scan(&existing)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			out = WorkerRegistered
		case err != nil:
			return err
		case existing != a.WorkerID:
			return validation(op, "instance_id_reassigned",
				"instance_id reassigned: %s is registered to worker %s", a.WorkerInstanceID, existing)
		default:
			out = WorkerRefreshed
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ff_worker_registry
			(namespace, worker_instance_id, worker_id, lanes, capabilities_csv,
			 last_heartbeat_ms, liveness_ttl_ms, registered_at_ms)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (namespace, worker_instance_id) DO UPDATE SET
				worker_id = excluded.worker_id, lanes = excluded.lanes,
				capabilities_csv = excluded.capabilities_csv,
				last_heartbeat_ms = excluded.last_heartbeat_ms,
				liveness_ttl_ms = excluded.liveness_ttl_ms`,
			a.Namespace, a.WorkerInstanceID, a.WorkerID, lanes, caps, now, int64(a.LivenessTTLMS), now); err != nil {
			return err
		}
		return workerEvent(ctx, tx, a.Namespace, a.WorkerInstanceID, "registered", now, nil)
	})
	return out, err
}

func workerEvent(ctx context.Context, tx *wtx, ns, inst, kind string, at int64, reason *string) error {
	_, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO ff_worker_registry_event
		(namespace, worker_instance_id, event_kind, event_at_ms, reason) VALUES (?, ?, ?, ?, ?)`,
		ns, inst, kind, at, reason)
	return err
}

// SweepExpiredWorkers is the worker-ttl reconciler's tick: in one
// transaction it deletes up to limit registrations (DefaultWorkerSweepBatch
// when limit <= 0) whose last heartbeat + TTL < nowMS, longest expired
// first, and appends a "ttl_swept" event for each. A registration exactly
// at its expiry is not swept (upstream's boundary; a heartbeat at that
// instant is already refused).
func (b *Backend) SweepExpiredWorkers(ctx context.Context, nowMS int64, limit int) (SweepReport, error) {
	const op = "worker_ttl_sweep"
	if limit <= 0 {
		limit = DefaultWorkerSweepBatch
	}
	var rep SweepReport
	err := b.write(ctx, op, func(tx *wtx) error {
		rep = SweepReport{}
		rows, err := tx.QueryContext(ctx, `DELETE FROM ff_worker_registry WHERE rowid IN (
				SELECT rowid FROM ff_worker_registry
				WHERE last_heartbeat_ms + liveness_ttl_ms < ?
				ORDER BY last_heartbeat_ms + liveness_ttl_ms LIMIT ?)
			RETURNING namespace, worker_instance_id`, nowMS, limit)
		if err != nil {
			return err
		}
		type key struct{ ns, inst string }
		var swept []key
		for rows.Next() {
			var k key
			if err := rows.Scan(&k.ns, &k.inst); err != nil {
				rows.Close()
				return err
			}
			swept = append(swept, k)
		}
		if err := rows.Err(); err != nil {
			rows.Close()
			return err
		}
		rows.Close()
		for _, k := range swept {
			if err := workerEvent(ctx, tx, k.ns, k.inst, "ttl_swept", nowMS, nil); err != nil {
				return err
			}
		}
		rep.Processed = len(swept)
		return nil
	})
	return rep, err
}
