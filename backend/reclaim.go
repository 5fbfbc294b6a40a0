package backend

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// Lease reclaim (route 13 and POST /v1/worker/reclaim,
// engine-canonical.md §2.5): an active execution whose lease expired or
// was revoked is handed to a new worker through a reclaim grant; the
// reclaim ends the prior attempt interrupted_reclaimed and starts a new
// one (epoch + 1, handle kind Reclaimed).
//
// ffsqlite's lease-expiry reconciler requeues an expired lease by default
// (LeaseExpiryRequeue, a dev convenience upstream lacks: nobody has to
// reclaim). LeaseExpiryReclaimable selects canonical marking instead: the
// execution stays active with ownership lease_expired_reclaimable until a
// reclaim. Either way route 13 works for a revoked lease and for an
// expired lease the reconciler has not swept yet: issuing the grant marks
// it as canonical does, so from then on the reconciler leaves it alone and
// the execution waits for its reclaim (or its attempt timeout or
// deadline).

// LeaseExpiryMode is what the lease-expiry reconciler does with an
// expired lease.
type LeaseExpiryMode string

// The lease-expiry modes.
const (
	// LeaseExpiryRequeue (the default, also the empty mode) ends the
	// attempt interrupted and puts the execution back in the queue; the
	// next claim starts a reclaim attempt.
	LeaseExpiryRequeue LeaseExpiryMode = "requeue"
	// LeaseExpiryReclaimable is canonical marking: ownership becomes
	// lease_expired_reclaimable (a revoked lease stays lease_revoked), the
	// execution stays active and only a reclaim (route 13) moves it on.
	LeaseExpiryReclaimable LeaseExpiryMode = "reclaimable"
)

// LeaseExpiryModeEnv is the environment variable behind scan's and
// serve's --lease-expiry-mode.
const LeaseExpiryModeEnv = "FFSQLITE_LEASE_EXPIRY_MODE"

// ParseLeaseExpiryMode reads a mode name (case-insensitive; empty is the
// default, requeue).
func ParseLeaseExpiryMode(s string) (LeaseExpiryMode, error) {
	switch m := LeaseExpiryMode(strings.ToLower(strings.TrimSpace(s))); m {
	case "", LeaseExpiryRequeue:
		return LeaseExpiryRequeue, nil
	case LeaseExpiryReclaimable:
		return m, nil
	}
	return "", fmt.Errorf("invalid lease expiry mode %q: expected %s or %s", s, LeaseExpiryRequeue, LeaseExpiryReclaimable)
}

// check validates an Options mode: empty or one of the constants.
func (m LeaseExpiryMode) check() error {
	switch m {
	case "", LeaseExpiryRequeue, LeaseExpiryReclaimable:
		return nil
	}
	return fmt.Errorf("invalid lease expiry mode %q: expected %s or %s", string(m), LeaseExpiryRequeue, LeaseExpiryReclaimable)
}

// DefaultReclaimCap is the reclaim cap when the policy sets no
// max_reclaim_count (canonical's 1000; the requeueing reconciler keeps
// its own default, DefaultMaxReclaimCount).
const DefaultReclaimCap = 1000

// reclaimCap is the policy's max_reclaim_count (timeout_policy's first),
// else DefaultReclaimCap.
func reclaimCap(p *ExecutionPolicy) int64 {
	if p != nil && ((p.TimeoutPolicy != nil && p.TimeoutPolicy.MaxReclaimCount != nil) || p.MaxReclaimCount != nil) {
		return p.maxReclaimCount()
	}
	return DefaultReclaimCap
}

var (
	// qMarkAttempt takes the current attempt's lease out of the expiry
	// index (the attempt keeps running until the reclaim ends it); the
	// expiry it had is kept in raw_fields. With ?4 (an expired lease's
	// mark) the stream closes with reason ?4 at ?5 unless it was closed
	// already (C4); a revoked lease's stream stays open until the reclaim.
	qMarkAttempt = `UPDATE ff_attempt SET lease_expires_at_ms = NULL,
  raw_fields = ` + streamMarkSQL("json_object('lease_expired_at_ms', lease_expires_at_ms)",
		"CASE WHEN ?4 IS NOT NULL THEN ?5 END", "?4") + `
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3 AND outcome IS NULL
  AND lease_expires_at_ms IS NOT NULL`

	qMarkExec = `UPDATE ff_exec_core SET ownership_state = 'lease_expired_reclaimable'
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'active' AND ownership_state = 'leased'`

	// qReclaimExec leases the active execution to the reclaiming attempt.
	qReclaimExec = `UPDATE ff_exec_core SET ownership_state = 'leased', eligibility_state = 'not_applicable',
  blocking_reason = 'none', attempt_state = 'running_attempt', public_state = 'active',
  attempt_index = ?3, lease_reclaim_count = lease_reclaim_count + 1
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'active'
RETURNING payload, ` + evTagsReturning
)

// reclaimState says whether the execution head h is reclaimable at now:
// active, its current attempt still open, and its lease revoked, marked
// expired, or expired and not swept yet. detail says why not.
func reclaimState(h *execHead, now int64) (ok bool, detail string) {
	switch {
	case h.lifecycle != "active":
		return false, "execution is " + h.lifecycle + ", not active"
	case !h.hasAttempt || h.outcome.Valid:
		return false, "execution has no open attempt"
	case h.ownership == "lease_revoked" || h.ownership == "lease_expired_reclaimable":
		return true, ""
	case h.ownership == "leased" && h.expires.Valid && h.expires.Int64 <= now:
		return true, ""
	}
	return false, "lease is held (ownership " + h.ownership + ")"
}

// markReclaimable is canonical lease-expiry marking of execution id
// (head h): a held lease becomes lease_expired_reclaimable with lease
// event "expired"; a revoked one stays lease_revoked; either way the
// attempt's lease leaves the expiry index, so the reconciler does not
// requeue it.
func (w *wtx) markReclaimable(id ExecutionID, h *execHead) error {
	part, key := id.key()
	var closeReason any
	if h.ownership == "leased" {
		closeReason = StreamClosedLeaseExpired
	}
	if _, err := w.exec(qMarkAttempt, part, key, h.attemptIndex, closeReason, w.now); err != nil {
		return err
	}
	w.streamChanged(part, key, h.attemptIndex)
	n, err := w.affected(qMarkExec, part, key)
	if err != nil || n == 0 {
		return err
	}
	h.ownership = "lease_expired_reclaimable"
	return w.leaseEvent(id, h.leaseID, "expired")
}

// reclaimCapFail ends an execution whose reclaims are used up: the open
// attempt ends failed, the execution fails (failure_class
// reclaim_cap_exceeded) with lease event "revoked".
func (w *wtx) reclaimCapFail(id ExecutionID, h *execHead, capN int64) error {
	part, key := id.key()
	if err := w.endAttempt(part, key, h.attemptIndex, "failed", 0, `{"failure_reason":"reclaim_cap_exceeded"}`); err != nil {
		return err
	}
	if err := w.leaseEvent(id, h.leaseID, "revoked"); err != nil {
		return err
	}
	_, err := w.terminate(id, outcomeFailed, terminal{fields: map[string]any{
		"failure_class":  "reclaim_cap_exceeded",
		"failure_reason": "lease_reclaim_count reached max_reclaim_count " + strconv.FormatInt(capN, 10),
	}})
	return err
}

// ReclaimGrantArgs is route 13's request.
type ReclaimGrantArgs struct {
	ExecutionID        ExecutionID `json:"-"`
	WorkerID           string      `json:"worker_id"`
	WorkerInstanceID   string      `json:"worker_instance_id"`
	LaneID             string      `json:"lane_id"`
	GrantTTLMS         int64       `json:"grant_ttl_ms"`
	CapabilityHash     *string     `json:"capability_hash"`
	RouteSnapshotJSON  *string     `json:"route_snapshot_json"`
	AdmissionSummary   *string     `json:"admission_summary"`
	WorkerCapabilities []string    `json:"worker_capabilities"`
}

// Route 13's answer statuses.
const (
	ReclaimGranted        = "granted"
	ReclaimNotReclaimable = "not_reclaimable"
	ReclaimCapExceeded    = "reclaim_cap_exceeded"
)

// ReclaimGrantResult is route 13's answer, tagged by Status: granted (the
// grant), not_reclaimable (Detail) or reclaim_cap_exceeded
// (ReclaimCount; the execution failed).
type ReclaimGrantResult struct {
	Status       string
	ExecutionID  ExecutionID
	Grant        ClaimGrant
	LaneID       string
	Detail       string
	ReclaimCount int64
}

// MarshalJSON renders upstream's status-tagged body.
func (r ReclaimGrantResult) MarshalJSON() ([]byte, error) {
	switch r.Status {
	case ReclaimGranted:
		return json.Marshal(struct {
			Status       string      `json:"status"`
			ExecutionID  ExecutionID `json:"execution_id"`
			PartitionKey string      `json:"partition_key"`
			GrantKey     string      `json:"grant_key"`
			ExpiresAtMS  int64       `json:"expires_at_ms"`
			LaneID       string      `json:"lane_id"`
		}{r.Status, r.ExecutionID, r.Grant.PartitionKey, r.Grant.GrantKey, r.Grant.ExpiresAtMS, r.LaneID})
	case ReclaimCapExceeded:
		return json.Marshal(struct {
			Status       string      `json:"status"`
			ExecutionID  ExecutionID `json:"execution_id"`
			ReclaimCount int64       `json:"reclaim_count"`
		}{r.Status, r.ExecutionID, r.ReclaimCount})
	}
	return json.Marshal(struct {
		Status      string      `json:"status"`
		ExecutionID ExecutionID `json:"execution_id"`
		Detail      string      `json:"detail"`
	}{r.Status, r.ExecutionID, r.Detail})
}

// CodeGrantAlreadyExists is a grant request for an execution another
// live grant holds: a KindState error, which ff-server renders 409
// "state_conflict: GrantAlreadyExists".
const CodeGrantAlreadyExists = "grant_already_exists"

// IssueReclaimGrant is route 13: for an active execution of args.LaneID whose
// lease was revoked or expired (marked, or not swept yet), held by no live grant,
// whose required capabilities the worker has, it marks the lease
// reclaimable if needed and grants the reclaim to the worker for
// GrantTTLMS. An execution whose lease_reclaim_count has reached its cap
// (policy max_reclaim_count, default DefaultReclaimCap) fails instead
// (status reclaim_cap_exceeded). Anything else is not_reclaimable.
func (b *Backend) IssueReclaimGrant(ctx context.Context, args ReclaimGrantArgs) (ReclaimGrantResult, error) {
	const op = "issue_reclaim_grant"
	p, err := prepareClaim(op, ClaimArgs{WorkerID: args.WorkerID, WorkerInstanceID: args.WorkerInstanceID,
		LaneID: args.LaneID, Capabilities: args.WorkerCapabilities})
	if err != nil {
		return ReclaimGrantResult{}, err
	}
	if err := checkGrantTTL(op, args.GrantTTLMS); err != nil {
		return ReclaimGrantResult{}, err
	}
	id := args.ExecutionID
	out := ReclaimGrantResult{ExecutionID: id}
	err = b.write(ctx, op, func(w *wtx) error {
		if _, err := w.exec(qGrantsExpire, w.now); err != nil {
			return err
		}
		h, err := w.head(op, id)
		if err != nil {
			return err
		}
		if ok, detail := reclaimState(h, w.now); !ok {
			out.Status, out.Detail = ReclaimNotReclaimable, detail
			return nil
		}
		part, key := id.key()
		var lane string
		if err := w.queryRow(`SELECT lane_id FROM ff_exec_core WHERE partition_key = ?1 AND execution_id = ?2`,
			part, key).Scan(&lane); err != nil {
			return err
		}
		if lane != args.LaneID {
			out.Status, out.Detail = ReclaimNotReclaimable, "execution is in lane "+strconv.Quote(lane)
			return nil
		}
		var missing []string
		if err := w.scanStrings(&missing, `SELECT capability FROM ff_execution_capabilities
WHERE execution_id = ?1 AND capability NOT IN (SELECT value FROM json_each(?2)) ORDER BY capability`, key, p.capsJSON); err != nil {
			return err
		}
		if len(missing) > 0 {
			out.Status, out.Detail = ReclaimNotReclaimable, "worker lacks required capabilities: "+strings.Join(missing, ",")
			return nil
		}
		var held bool
		if err := w.queryRow(qGrantLive, part, key, w.now).Scan(&held); err != nil {
			return err
		}
		if held {
			return stateErr(op, CodeGrantAlreadyExists, "GrantAlreadyExists")
		}
		if capN := reclaimCap(h.policy); h.reclaimCount >= capN {
			out.Status, out.ReclaimCount = ReclaimCapExceeded, h.reclaimCount
			return w.reclaimCapFail(id, h, capN)
		}
		if err := w.markReclaimable(id, h); err != nil {
			return err
		}
		g, err := w.insertGrant(grantKindReclaim, id, grantFields{worker: args.WorkerID, instance: args.WorkerInstanceID,
			lane: args.LaneID, capsJSON: p.capsJSON, capabilityHash: args.CapabilityHash,
			routeSnapshot: args.RouteSnapshotJSON, admissionSummary: args.AdmissionSummary, ttl: args.GrantTTLMS})
		if err != nil {
			return err
		}
		out.Status, out.Grant, out.LaneID = ReclaimGranted, g, args.LaneID
		return nil
	})
	if err != nil {
		return ReclaimGrantResult{}, err
	}
	return out, nil
}

// scanStrings runs q and appends its one text column to dst.
func (w *wtx) scanStrings(dst *[]string, q string, args ...any) error {
	rows, err := w.QueryContext(w.ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		*dst = append(*dst, s)
	}
	return rows.Err()
}

// ReclaimArgs consumes a reclaim grant (POST /v1/worker/reclaim).
type ReclaimArgs struct {
	WorkerID         string      `json:"worker_id"`
	WorkerInstanceID string      `json:"worker_instance_id"`
	LaneID           string      `json:"lane_id"`
	ExecutionID      ExecutionID `json:"execution_id"`
	GrantKey         string      `json:"grant_key"`
	// LeaseTTLMS is the new lease's duration; 0 means DefaultLeaseTTLMS.
	LeaseTTLMS int64 `json:"lease_ttl_ms"`
}

// ReclaimResult is a consumed reclaim grant: the new lease, or, when the
// reclaim cap was reached, CapExceeded with the count (the execution
// failed and Lease is nil).
type ReclaimResult struct {
	Lease        *Lease
	CapExceeded  bool
	ReclaimCount int64
}

// CodeNotReclaimable is a reclaim of an execution that is no longer
// reclaimable (409).
const CodeNotReclaimable = "not_reclaimable"

// ReclaimExecution consumes a reclaim grant. A missing, expired or
// foreign grant is KindNotFound (reclaim grant); a grant issued to another
// worker is a validation error; an execution no longer reclaimable is
// KindState not_reclaimable. At the reclaim cap the execution fails
// (ReclaimResult.CapExceeded). Otherwise the prior attempt ends
// interrupted_reclaimed (failure_reason lease_expired / lease_revoked), a
// new reclaim attempt starts (next index, epoch + 1, the caller's lease),
// lease_reclaim_count + 1, lease event "reclaimed", handle kind Reclaimed;
// the old handle is fenced.
func (b *Backend) ReclaimExecution(ctx context.Context, args ReclaimArgs) (ReclaimResult, error) {
	const op = "reclaim_execution"
	claim := ClaimArgs{WorkerID: args.WorkerID, WorkerInstanceID: args.WorkerInstanceID, LaneID: args.LaneID,
		LeaseTTLMS: args.LeaseTTLMS}
	p, err := prepareClaim(op, claim)
	if err != nil {
		return ReclaimResult{}, err
	}
	if args.ExecutionID.IsZero() {
		return ReclaimResult{}, validation(op, "invalid_input", "execution_id: required")
	}
	gid, err := parseGrantKey(op, args.GrantKey)
	if err != nil {
		return ReclaimResult{}, err
	}
	var out ReclaimResult
	err = b.write(ctx, op, func(w *wtx) error {
		out = ReclaimResult{}
		id := args.ExecutionID
		g, err := w.readGrant(id, gid)
		if err != nil {
			return err
		}
		if !g.found || !g.matchesX || g.kind != grantKindReclaim || !g.live {
			return notFound(op, "reclaim grant")
		}
		if g.worker != args.WorkerID {
			return validation(op, "invalid_input", "worker_id: the reclaim grant was issued to another worker")
		}
		if g.lane != args.LaneID {
			return validation(op, "invalid_input", "lane_id: the reclaim grant was issued for lane %q", g.lane)
		}
		h, err := w.head(op, id)
		if err != nil {
			return err
		}
		if ok, detail := reclaimState(h, w.now); !ok {
			return stateErr(op, CodeNotReclaimable, "NotReclaimable { detail: "+strconv.Quote(detail)+" }")
		}
		if err := w.deleteGrant(id, gid); err != nil {
			return err
		}
		if capN := reclaimCap(h.policy); h.reclaimCount >= capN {
			out.CapExceeded, out.ReclaimCount = true, h.reclaimCount
			return w.reclaimCapFail(id, h, capN)
		}
		out.Lease, err = w.reclaimLease(id, h, claim, p.ttl)
		return err
	})
	if err != nil {
		return ReclaimResult{}, err
	}
	return out, nil
}

// reclaimLease ends h's attempt interrupted_reclaimed and leases the
// execution to a new reclaim attempt for the worker of args.
func (w *wtx) reclaimLease(id ExecutionID, h *execHead, args ClaimArgs, ttl int64) (*Lease, error) {
	part, key := id.key()
	reason := "lease_expired"
	if h.ownership == "lease_revoked" {
		reason = "lease_revoked"
	}
	if err := w.endAttempt(part, key, h.attemptIndex, "interrupted_reclaimed", 0,
		`{"failure_reason":"`+reason+`"}`); err != nil {
		return nil, err
	}
	attemptID, leaseID := uuid.NewString(), uuid.NewString()
	expires := w.now + ttl
	var idx, epoch int64
	if err := w.queryRow(qClaimAttempt, part, key, args.WorkerID, args.WorkerInstanceID, expires, w.now,
		attemptID, leaseID, "reclaim", args.LaneID).Scan(&idx, &epoch); err != nil {
		return nil, err
	}
	var payload []byte
	var tags evTags
	if err := w.queryRow(qReclaimExec, part, key, idx).Scan(append([]any{&payload}, tags.dest()...)...); err != nil {
		return nil, err
	}
	if err := w.leaseEventTagged(id, &tags, leaseID, "reclaimed"); err != nil {
		return nil, err
	}
	return &Lease{
		ExecutionID: id, AttemptIndex: uint32(idx), AttemptID: attemptID, AttemptType: "reclaim",
		LeaseID: leaseID, LeaseEpoch: uint64(epoch), LeaseTTLMS: ttl, ExpiresAtMS: expires,
		InputPayload: payload, LaneID: args.LaneID, WorkerID: args.WorkerID, WorkerInstanceID: args.WorkerInstanceID,
		Handle: EncodeHandle(HandleReclaimed, HandlePayload{
			ExecutionID: id, AttemptIndex: uint32(idx), AttemptID: attemptID, LeaseID: leaseID,
			LeaseEpoch: uint64(epoch), LeaseTTLMS: uint64(ttl), LaneID: args.LaneID,
			WorkerInstanceID: args.WorkerInstanceID,
		}),
	}, nil
}
