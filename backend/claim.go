package backend

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/google/uuid"
)

// DefaultLeaseTTLMS is the lease TTL when a claim gives none (the SDK's
// default).
const DefaultLeaseTTLMS = 30_000

// maxTTLMS caps lease TTLs so that now + ttl cannot overflow.
const maxTTLMS = int64(1) << 50

// ClaimArgs asks for the next execution of a lane that a worker with the
// given capabilities may run.
type ClaimArgs struct {
	WorkerID         string   `json:"worker_id"`
	WorkerInstanceID string   `json:"worker_instance_id"`
	LaneID           string   `json:"lane_id"`
	Capabilities     []string `json:"capabilities"`
	// LeaseTTLMS is the lease duration; 0 means DefaultLeaseTTLMS.
	LeaseTTLMS int64 `json:"lease_ttl_ms"`
}

// Lease is a granted claim: the attempt the worker now runs, its fence
// (lease id + epoch) and expiry, the input, and the opaque Handle to pass
// to Renew, Complete and Fail.
type Lease struct {
	ExecutionID      ExecutionID `json:"execution_id"`
	AttemptIndex     uint32      `json:"attempt_index"`
	AttemptID        string      `json:"attempt_id"`
	AttemptType      string      `json:"attempt_type"`
	LeaseID          string      `json:"lease_id"`
	LeaseEpoch       uint64      `json:"lease_epoch"`
	LeaseTTLMS       int64       `json:"lease_ttl_ms"`
	ExpiresAtMS      int64       `json:"expires_at_ms"`
	InputPayload     Bytes       `json:"input_payload"`
	LaneID           string      `json:"lane_id"`
	WorkerID         string      `json:"worker_id"`
	WorkerInstanceID string      `json:"worker_instance_id"`
	Handle           Handle      `json:"handle"`
	// Resumed is true when the claim resumed an attempt paused by a
	// suspend or a worker delay (same attempt_index and attempt_id, epoch
	// + 1, handle kind Resumed) rather than starting a new one.
	Resumed bool `json:"resumed"`
	// Signals are, for a resumed claim, the signals that satisfied the
	// attempt's suspension (empty after a delay or an operator resume);
	// absent otherwise.
	Signals []ResumeSignal `json:"signals,omitzero"`
}

// claimableRow is the claim's rule for one execution e: in lane ?1,
// runnable, eligible now or delayed with delay_until <= ?2 (no promoter
// needed), and every capability it requires in the worker's set ?3 (a
// JSON array), held by no live grant (grant.go). The ready index's pick
// (readyindex.go) and the schema-only queries below share it.
const claimableRow = `e.lane_id = ?1 AND e.lifecycle_phase = 'runnable'
  AND (e.eligibility_state = 'eligible_now'
       OR (e.eligibility_state = 'not_eligible_until_time'
           AND json_extract(e.raw_fields, '$.delay_until') <= ?2))
  AND NOT EXISTS (
    SELECT 1 FROM ff_execution_capabilities c
    WHERE c.execution_id = e.execution_id
      AND c.capability NOT IN (SELECT value FROM json_each(?3)))` + notGranted

var (
	// qClaimPickSchema is the claim's choice from the file's schema alone:
	// the claimable rows of the lane (index (partition_key, lane_id,
	// lifecycle_phase), every partition enumerated), highest priority,
	// then oldest, then first inserted. It reads and sorts every runnable
	// row of the lane, so claims go through the ready index instead; this
	// is the reference the index is tested against.
	qClaimPickSchema = hotStmt(`WITH RECURSIVE ` + partsCTE + `
SELECT e.partition_key, e.execution_id, e.attempt_state
FROM parts CROSS JOIN ff_exec_core e
  ON e.partition_key = parts.p AND e.lane_id = ?1 AND e.lifecycle_phase = 'runnable'
WHERE ` + claimableRow + `
ORDER BY e.priority DESC, e.created_at_ms ASC, e.rowid ASC
LIMIT 1`)

	// qClaimableExists answers whether any execution is claimable, without
	// ordering: it stops at the first claimable row (PeekClaimable).
	qClaimableExists = `WITH RECURSIVE ` + partsCTE + `
SELECT EXISTS (SELECT 1 FROM parts CROSS JOIN ff_exec_core e
  ON e.partition_key = parts.p AND e.lane_id = ?1 AND e.lifecycle_phase = 'runnable'
WHERE ` + claimableRow + `)`

	// The new attempt takes the next index and the next epoch. The two
	// are scalar subqueries of VALUES rather than an INSERT … SELECT from
	// ff_attempt itself, which SQLite would first copy to a temporary
	// table.
	qClaimAttempt = hotStmt(`INSERT INTO ff_attempt
  (partition_key, execution_id, attempt_index, worker_id, worker_instance_id, lease_epoch,
   lease_expires_at_ms, started_at_ms, raw_fields)
VALUES (?1, ?2,
  (SELECT COALESCE(max(attempt_index) + 1, 0) FROM ff_attempt WHERE partition_key = ?1 AND execution_id = ?2),
  ?3, ?4,
  (SELECT COALESCE(max(lease_epoch), 0) + 1 FROM ff_attempt WHERE partition_key = ?1 AND execution_id = ?2),
  ?5, ?6, json_object('attempt_id', ?7, 'lease_id', ?8, 'attempt_type', ?9, 'lane_id', ?10))
RETURNING attempt_index, lease_epoch`)

	// qReclaimGrantsDrop deletes the execution's reclaim grants
	// (ff_claim_grant_execution_idx).
	qReclaimGrantsDrop = hotStmt(`DELETE FROM ff_claim_grant
WHERE partition_key = ?1 AND execution_id = ?2 AND kind = '` + grantKindReclaim + `'`)

	qClaimExec = hotStmt(`UPDATE ff_exec_core SET
  lifecycle_phase = 'active', ownership_state = 'leased', eligibility_state = 'not_applicable',
  blocking_reason = 'none', attempt_state = 'running_attempt', public_state = 'active',
  attempt_index = ?3, started_at_ms = COALESCE(started_at_ms, ?4),
  raw_fields = json_remove(raw_fields, '$.delay_until', '$.blocking_detail')
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'runnable'
RETURNING payload, ` + evTagsReturning)
)

// attemptTypeFor maps the execution's pending attempt state to the type of
// the attempt a claim creates. attempt_interrupted is a reclaim only when
// the current attempt ended (lease expiry); an attempt paused by suspend
// or delay is resumed instead (resume.go).
func attemptTypeFor(attemptState string) string {
	switch attemptState {
	case "pending_retry_attempt":
		return "retry"
	case "pending_replay_attempt":
		return "replay"
	case "attempt_interrupted":
		return "reclaim"
	default:
		return "initial"
	}
}

// MaxClaimBatch caps the leases one ClaimMany grants.
const MaxClaimBatch = 100

// Claim leases the best execution of the lane for the worker, or returns
// nil, nil when there is none. Runnable executions that are eligible now,
// or delayed with delay_until <= now (no promoter needed), qualify when
// every capability they require is in args.Capabilities; the highest
// priority wins, then the oldest. The claim creates the attempt row (type
// initial / retry / reclaim / replay from the pending attempt state),
// takes the next lease epoch, sets the lease expiry and, once,
// started_at_ms, and writes lease event "acquired" ("reclaimed" for a
// reclaim), all in one short transaction. An execution whose current
// attempt was paused by a suspend or a worker delay resumes that attempt
// instead: same index and attempt id, epoch + 1, a new lease, handle kind
// Resumed, Lease.Resumed and the satisfying signals.
func (b *Backend) Claim(ctx context.Context, args ClaimArgs) (*Lease, error) {
	leases, err := b.claim(ctx, args, 1)
	if err != nil || len(leases) == 0 {
		return nil, err
	}
	return leases[0], nil
}

// ClaimMany leases up to n (1 to MaxClaimBatch) executions of the lane for
// the worker in one transaction, best first, each exactly as Claim would
// lease it; it returns an empty slice when there is none.
func (b *Backend) ClaimMany(ctx context.Context, args ClaimArgs, n int) ([]*Lease, error) {
	if n < 1 || n > MaxClaimBatch {
		return nil, validation("claim", "invalid_input", "max: must be 1..=%d (got %d)", MaxClaimBatch, n)
	}
	return b.claim(ctx, args, n)
}

// ValidateClaimArgs returns the error Claim would return for args' fields
// (worker, lane, lease TTL, capabilities) without claiming anything, so a
// caller can refuse bad claim fields before it changes anything else.
func ValidateClaimArgs(args ClaimArgs) error {
	_, err := prepareClaim("claim", args)
	return err
}

// claimPlan is a validated claim request.
type claimPlan struct {
	ttl      int64
	capsJSON string
}

func prepareClaim(op string, args ClaimArgs) (claimPlan, error) {
	if err := validateLane(args.LaneID); err != nil {
		return claimPlan{}, engineOp(err, op)
	}
	if err := validateWorkerID("worker_id", args.WorkerID); err != nil {
		return claimPlan{}, engineOp(err, op)
	}
	if err := validateWorkerID("worker_instance_id", args.WorkerInstanceID); err != nil {
		return claimPlan{}, engineOp(err, op)
	}
	ttl := args.LeaseTTLMS
	if ttl == 0 {
		ttl = DefaultLeaseTTLMS
	}
	if ttl < 0 {
		return claimPlan{}, validation(op, "invalid_input", "lease_ttl_ms must be positive (got %d)", ttl)
	}
	ttl = min(ttl, maxTTLMS)
	caps, err := normalizeCapabilities(args.Capabilities)
	if err != nil {
		return claimPlan{}, engineOp(err, op)
	}
	if caps == nil {
		caps = []string{}
	}
	capsJSON, err := json.Marshal(caps)
	if err != nil {
		return claimPlan{}, err
	}
	return claimPlan{ttl: ttl, capsJSON: string(capsJSON)}, nil
}

// claim leases up to n executions in one write transaction.
func (b *Backend) claim(ctx context.Context, args ClaimArgs, n int) ([]*Lease, error) {
	const op = "claim"
	p, err := prepareClaim(op, args)
	if err != nil {
		return nil, err
	}
	var leases []*Lease
	err = b.write(ctx, op, func(w *wtx) error {
		var err error
		leases, err = w.claimUpTo(args, p, n)
		return err
	})
	if err != nil {
		return nil, err
	}
	return leases, nil
}

// claimUpTo leases up to n executions of args' lane to its worker inside
// the current write transaction, best first; none found is an empty
// slice. p is args validated (prepareClaim).
func (w *wtx) claimUpTo(args ClaimArgs, p claimPlan, n int) ([]*Lease, error) {
	leases := make([]*Lease, 0, n)
	pick := w.pickReady
	if w.b.in.readyOff {
		pick = w.pickSchema
	} else if err := w.refreshReady(); err != nil {
		return nil, err
	}
	var quotas quotaAdmission
	for len(leases) < n {
		c, found, err := pick(args.LaneID, w.now, p.capsJSON)
		if err != nil {
			return nil, err
		}
		if !found {
			break
		}
		if c.mayQuota {
			if ok, err := quotas.admit(w, c.part, c.key); err != nil || !ok {
				if err != nil {
					return nil, err
				}
				continue // blocked by its quota (quota_admission.go)
			}
		}
		lease, err := w.grantLease(c.part, c.key, c.attemptState, args, p.ttl)
		if err != nil {
			return nil, err
		}
		leases = append(leases, lease)
	}
	return leases, nil
}

// grantLease leases the runnable execution (part, key), whose attempt
// state is attemptState, to the worker of args: the attempt row (or, for
// an attempt paused by a suspend or a worker delay, that attempt resumed:
// same index and attempt id, epoch + 1), the execution's active state and
// the lease event.
func (w *wtx) grantLease(part int64, key []byte, attemptState string, args ClaimArgs, ttl int64) (*Lease, error) {
	now := w.now
	attemptID, leaseID := uuid.NewString(), uuid.NewString()
	id, err := execIDFromRow(part, key)
	if err != nil {
		return nil, err
	}
	atype := attemptTypeFor(attemptState)
	expires := now + ttl
	var idx, epoch int64
	aid := attemptID
	resumed := false
	var suspRecord sql.NullString
	if attemptState == "attempt_interrupted" {
		r, ok, err := w.resumeAttempt(part, key, expires, args, leaseID)
		if err != nil {
			return nil, err
		}
		if ok {
			resumed, idx, epoch, aid, atype, suspRecord = true, r.idx, r.epoch, r.attemptID, r.atype, r.suspension
		}
	}
	if !resumed {
		if err := w.queryRow(qClaimAttempt, part, key, args.WorkerID, args.WorkerInstanceID, expires, now,
			attemptID, leaseID, atype, args.LaneID).Scan(&idx, &epoch); err != nil {
			return nil, err
		}
	}
	var payload []byte
	var tags evTags
	if err := w.queryRow(qClaimExec, part, key, idx, now).Scan(append([]any{&payload}, tags.dest()...)...); err != nil {
		return nil, err
	}
	// A reclaim grant left over from an earlier lease (the execution
	// became runnable again by a timeout retry, a cancel and a replay, …)
	// ends with the new lease: it must not reclaim this one.
	if _, err := w.exec(qReclaimGrantsDrop, part, key); err != nil {
		return nil, err
	}
	event := "acquired"
	kind := HandleFresh
	switch {
	case resumed:
		kind = HandleResumed
	case atype == "reclaim":
		event, kind = "reclaimed", HandleReclaimed
	}
	if err := w.leaseEventTagged(id, &tags, leaseID, event); err != nil {
		return nil, err
	}
	lease := &Lease{
		ExecutionID: id, AttemptIndex: uint32(idx), AttemptID: aid, AttemptType: atype,
		LeaseID: leaseID, LeaseEpoch: uint64(epoch), LeaseTTLMS: ttl, ExpiresAtMS: expires,
		InputPayload: payload, LaneID: args.LaneID, WorkerID: args.WorkerID,
		WorkerInstanceID: args.WorkerInstanceID, Resumed: resumed,
	}
	if resumed {
		if lease.Signals, err = w.resumedSignals(part, key, idx, suspRecord); err != nil {
			return nil, err
		}
	}
	lease.Handle = EncodeHandle(kind, HandlePayload{
		ExecutionID: id, AttemptIndex: uint32(idx), AttemptID: aid, LeaseID: leaseID,
		LeaseEpoch: uint64(epoch), LeaseTTLMS: uint64(ttl), LaneID: args.LaneID,
		WorkerInstanceID: args.WorkerInstanceID,
	})
	return lease, nil
}

// PeekClaimable reports, from the read pool and without the write lock,
// whether Claim would find an execution for args right now. A worker
// polling an idle lane (the HTTP long-poll) checks this before claiming
// again, so waiting costs no write transaction; Claim re-checks inside its
// transaction, so a stale answer only costs one empty claim.
func (b *Backend) PeekClaimable(ctx context.Context, args ClaimArgs) (bool, error) {
	const op = "claim"
	p, err := prepareClaim(op, args)
	if err != nil {
		return false, err
	}
	var found bool
	if err := b.in.reader.QueryRowContext(ctx, qClaimableExists, args.LaneID, b.Now(), p.capsJSON).Scan(&found); err != nil {
		return false, transport(op, err)
	}
	return found, nil
}
