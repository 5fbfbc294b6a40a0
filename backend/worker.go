package backend

import (
	"context"
	"database/sql"
	"errors"
	"math"
	"slices"
	"strings"
	"unicode"
)

// The worker registry (server-api.md §4.14): live worker registrations in
// ff_worker_registry and their audit trail in ff_worker_registry_event
// (registered / heartbeat / marked_dead / ttl_swept). Unlike upstream,
// which runs these in plain deferred transactions without retry, every
// write here goes through write (BEGIN IMMEDIATE + busy retry). Times
// come from the engine clock.

// MarkWorkerDeadReasonMaxBytes caps MarkWorkerDead's reason.
const MarkWorkerDeadReasonMaxBytes = 256

// DefaultWorkerSweepBatch is how many expired registrations one TTL sweep
// deletes at most when the caller passes no limit.
const DefaultWorkerSweepBatch = 1000

// DefaultListWorkersLimit is ListWorkers' page size when none is given.
const DefaultListWorkersLimit = 1000

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

// HeartbeatWorkerArgs names the instance to refresh.
type HeartbeatWorkerArgs struct {
	Namespace        string `json:"namespace"`
	WorkerInstanceID string `json:"worker_instance_id"`
}

// HeartbeatOutcome is Refreshed or NotRegistered.
type HeartbeatOutcome string

// HeartbeatWorker outcomes.
const (
	HeartbeatRefreshed     HeartbeatOutcome = "Refreshed"
	HeartbeatNotRegistered HeartbeatOutcome = "NotRegistered"
)

// HeartbeatWorkerResult is the heartbeat's outcome; NextExpiryMS is set
// when refreshed.
type HeartbeatWorkerResult struct {
	Outcome      HeartbeatOutcome `json:"outcome"`
	NextExpiryMS int64            `json:"next_expiry_ms,omitempty"`
}

// MarkWorkerDeadArgs names the instance to remove and why.
type MarkWorkerDeadArgs struct {
	Namespace        string `json:"namespace"`
	WorkerInstanceID string `json:"worker_instance_id"`
	Reason           string `json:"reason"`
}

// MarkWorkerDeadOutcome is Marked or NotRegistered.
type MarkWorkerDeadOutcome string

// MarkWorkerDead outcomes.
const (
	WorkerMarked        MarkWorkerDeadOutcome = "Marked"
	WorkerNotRegistered MarkWorkerDeadOutcome = "NotRegistered"
)

// WorkerCursor is a ListWorkers page boundary (exclusive).
type WorkerCursor struct {
	Namespace        string `json:"namespace"`
	WorkerInstanceID string `json:"worker_instance_id"`
}

// ListWorkersArgs pages through registrations ordered by (namespace,
// worker_instance_id). An empty Namespace lists every namespace.
type ListWorkersArgs struct {
	Namespace string
	After     *WorkerCursor
	Limit     int // DefaultListWorkersLimit when <= 0
}

// WorkerInfo is one registration. ExpiresAtMS is last heartbeat + TTL;
// a registration past it is expired but listed until the TTL sweep (or a
// re-register) deals with it.
type WorkerInfo struct {
	WorkerID         string   `json:"worker_id"`
	WorkerInstanceID string   `json:"worker_instance_id"`
	Namespace        string   `json:"namespace"`
	Lanes            []string `json:"lanes"`
	Capabilities     []string `json:"capabilities"`
	LastHeartbeatMS  int64    `json:"last_heartbeat_ms"`
	LivenessTTLMS    int64    `json:"liveness_ttl_ms"`
	RegisteredAtMS   int64    `json:"registered_at_ms"`
	ExpiresAtMS      int64    `json:"expires_at_ms"`
}

// ListWorkersResult is a page of workers and the cursor of the next page
// (nil on the last page).
type ListWorkersResult struct {
	Workers []WorkerInfo  `json:"workers"`
	Next    *WorkerCursor `json:"next_cursor"`
}

// validateWorkerToken checks worker_id / worker_instance_id: non-empty,
// at most 256 bytes, no whitespace or control characters.
func validateWorkerToken(op, field, s string) error {
	if s == "" {
		return validation(op, "invalid_input", "%s: must not be empty", field)
	}
	if len(s) > 256 {
		return validation(op, "invalid_input", "%s: exceeds 256 bytes (got %d)", field, len(s))
	}
	if strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return validation(op, "invalid_input", "%s: must not contain whitespace or control characters", field)
	}
	return nil
}

// workerCSVSet validates, sorts, de-duplicates and comma-joins lanes or
// capabilities.
func workerCSVSet(op, field string, items []string, lane bool) (string, error) {
	out := make([]string, 0, len(items))
	for _, it := range items {
		switch {
		case it == "":
			return "", validation(op, "invalid_input", "%s: empty entry", field)
		case lane && len(it) > 64:
			return "", validation(op, "invalid_input", "%s: %q exceeds 64 bytes", field, it)
		case strings.Contains(it, ","):
			return "", validation(op, "invalid_input", "%s: %q must not contain a comma", field, it)
		}
		for i := 0; i < len(it); i++ {
			c := it[i]
			if (lane && (c < 0x20 || c > 0x7e)) || (!lane && (c <= 0x20 || c == 0x7f)) {
				return "", validation(op, "invalid_input", "%s: %q has a forbidden byte 0x%02x", field, it, c)
			}
		}
		out = append(out, it)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if !lane && len(out) > 256 {
		return "", validation(op, "invalid_input", "%s: more than 256 entries (%d)", field, len(out))
	}
	s := strings.Join(out, ",")
	if len(s) > 4096 {
		return "", validation(op, "invalid_input", "%s: joined list exceeds 4096 bytes", field)
	}
	return s, nil
}

func splitWorkerCSV(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// RegisterWorker inserts or refreshes a registration (heartbeat = now,
// lanes, capabilities and TTL replaced) and appends a "registered" event.
// Re-registering an instance id under another worker_id is refused.
func (b *Backend) RegisterWorker(ctx context.Context, a RegisterWorkerArgs) (RegisterWorkerOutcome, error) {
	const op = "register_worker"
	if err := checkIdent(op, "namespace", a.Namespace); err != nil {
		return "", err
	}
	if err := validateWorkerToken(op, "worker_id", a.WorkerID); err != nil {
		return "", err
	}
	if err := validateWorkerToken(op, "worker_instance_id", a.WorkerInstanceID); err != nil {
		return "", err
	}
	if a.LivenessTTLMS == 0 || a.LivenessTTLMS > math.MaxInt64/2 {
		return "", validation(op, "invalid_input", "liveness_ttl_ms: must be in 1..=%d", int64(math.MaxInt64/2))
	}
	lanes, err := workerCSVSet(op, "lanes", a.Lanes, true)
	if err != nil {
		return "", err
	}
	caps, err := workerCSVSet(op, "capabilities", a.Capabilities, false)
	if err != nil {
		return "", err
	}
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

// HeartbeatWorker moves the instance's heartbeat to now if its
// registration has not expired (last heartbeat + TTL > now) and appends a
// "heartbeat" event; an unknown or expired registration is NotRegistered
// (the worker must register again).
func (b *Backend) HeartbeatWorker(ctx context.Context, a HeartbeatWorkerArgs) (HeartbeatWorkerResult, error) {
	const op = "heartbeat_worker"
	if err := checkIdent(op, "namespace", a.Namespace); err != nil {
		return HeartbeatWorkerResult{}, err
	}
	if err := validateWorkerToken(op, "worker_instance_id", a.WorkerInstanceID); err != nil {
		return HeartbeatWorkerResult{}, err
	}
	res := HeartbeatWorkerResult{Outcome: HeartbeatNotRegistered}
	err := b.write(ctx, op, func(tx *wtx) error {
		now := b.Now()
		res = HeartbeatWorkerResult{Outcome: HeartbeatNotRegistered}
		var ttl int64
		err := tx.QueryRowContext(ctx, `UPDATE ff_worker_registry SET last_heartbeat_ms = ?
			WHERE namespace = ? AND worker_instance_id = ? AND last_heartbeat_ms + liveness_ttl_ms > ?
			RETURNING liveness_ttl_ms`, now, a.Namespace, a.WorkerInstanceID, now).Scan(&ttl)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return err
		}
		res = HeartbeatWorkerResult{Outcome: HeartbeatRefreshed, NextExpiryMS: now + ttl}
		return workerEvent(ctx, tx, a.Namespace, a.WorkerInstanceID, "heartbeat", now, nil)
	})
	return res, err
}

// MarkWorkerDead deletes a registration and appends a "marked_dead" event
// with the reason (at most 256 bytes, no control characters).
func (b *Backend) MarkWorkerDead(ctx context.Context, a MarkWorkerDeadArgs) (MarkWorkerDeadOutcome, error) {
	const op = "mark_worker_dead"
	if len(a.Reason) > MarkWorkerDeadReasonMaxBytes {
		return "", validation(op, "invalid_input", "reason: exceeds %d bytes (got %d)", MarkWorkerDeadReasonMaxBytes, len(a.Reason))
	}
	if strings.IndexFunc(a.Reason, unicode.IsControl) >= 0 {
		return "", validation(op, "invalid_input", "reason: must not contain control characters")
	}
	if err := checkIdent(op, "namespace", a.Namespace); err != nil {
		return "", err
	}
	if err := validateWorkerToken(op, "worker_instance_id", a.WorkerInstanceID); err != nil {
		return "", err
	}
	out := WorkerNotRegistered
	err := b.write(ctx, op, func(tx *wtx) error {
		now := b.Now()
		r, err := tx.ExecContext(ctx, `DELETE FROM ff_worker_registry WHERE namespace = ? AND worker_instance_id = ?`,
			a.Namespace, a.WorkerInstanceID)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil || n == 0 {
			out = WorkerNotRegistered
			return err
		}
		out = WorkerMarked
		return workerEvent(ctx, tx, a.Namespace, a.WorkerInstanceID, "marked_dead", now, &a.Reason)
	})
	return out, err
}

// ListWorkers returns one page of registrations, expired ones included.
func (b *Backend) ListWorkers(ctx context.Context, a ListWorkersArgs) (ListWorkersResult, error) {
	const op = "list_workers"
	limit := a.Limit
	if limit <= 0 {
		limit = DefaultListWorkersLimit
	}
	var afterNS, afterInst sql.NullString
	if a.After != nil {
		afterNS = sql.NullString{String: a.After.Namespace, Valid: true}
		afterInst = sql.NullString{String: a.After.WorkerInstanceID, Valid: true}
	}
	rows, err := b.in.reader.QueryContext(ctx, `SELECT worker_id, worker_instance_id, namespace, lanes,
			capabilities_csv, last_heartbeat_ms, liveness_ttl_ms, registered_at_ms
		FROM ff_worker_registry
		WHERE (?1 = '' OR namespace = ?1)
		  AND (?2 IS NULL OR (namespace, worker_instance_id) > (?2, ?3))
		ORDER BY namespace, worker_instance_id
		LIMIT ?4`, a.Namespace, afterNS, afterInst, limit)
	if err != nil {
		return ListWorkersResult{}, transport(op, err)
	}
	defer rows.Close()
	res := ListWorkersResult{Workers: []WorkerInfo{}}
	for rows.Next() {
		var w WorkerInfo
		var lanes, caps string
		if err := rows.Scan(&w.WorkerID, &w.WorkerInstanceID, &w.Namespace, &lanes, &caps,
			&w.LastHeartbeatMS, &w.LivenessTTLMS, &w.RegisteredAtMS); err != nil {
			return ListWorkersResult{}, transport(op, err)
		}
		w.Lanes, w.Capabilities = splitWorkerCSV(lanes), splitWorkerCSV(caps)
		w.ExpiresAtMS = w.LastHeartbeatMS + w.LivenessTTLMS
		res.Workers = append(res.Workers, w)
	}
	if err := rows.Err(); err != nil {
		return ListWorkersResult{}, transport(op, err)
	}
	if len(res.Workers) == limit {
		last := res.Workers[len(res.Workers)-1]
		res.Next = &WorkerCursor{Namespace: last.Namespace, WorkerInstanceID: last.WorkerInstanceID}
	}
	return res, nil
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
