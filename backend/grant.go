package backend

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"

	"github.com/google/uuid"
)

// Claim grants (route 14, engine-canonical.md §2.5): the scheduler-routed
// claim reserves the best grantable execution of a lane for one worker
// for a short time, and the worker turns the reservation into a lease
// (ClaimFromGrant). Grants live in ff_claim_grant, kind "claim" here and
// "reclaim" for route 13 (reclaim.go).
//
// Choices where canonical leaves room:
//   - A candidate whose required capabilities the worker lacks, or whose
//     budget is at a hard limit, is skipped, not blocked: canonical's
//     blocked_by_route / waiting_for_budget state is only safe with an
//     unblock reconciler re-checking it, and ffsqlite has none for these
//     reasons, so a blocked execution would stay blocked for good.
//   - While a grant is live (expires_at_ms > now) the execution stays
//     eligible (public state waiting) but no plain claim takes it
//     (notGranted is part of the claim's rule) and no second grant is
//     issued for it, as on Valkey where every claim consumes a grant.
//   - Quota admission (the ffsqlite extension of quota_admission.go)
//     runs when the grant is issued, as canonical's scheduler admits
//     before it grants; a refused candidate is blocked rate_limited (the
//     quota-unblock reconciler re-checks it) and the walk goes on. The
//     consumption does not admit again.
//   - A grant expires lazily: every rule compares expires_at_ms with the
//     clock, and each issue first deletes the grants already expired
//     (ff_claim_grant_expiry_idx).

// Grant kinds (ff_claim_grant.kind).
const (
	grantKindClaim   = "claim"
	grantKindReclaim = "reclaim"
)

// MaxGrantTTLMS is the longest grant_ttl_ms a grant accepts (upstream's
// 1..=60000).
const MaxGrantTTLMS = 60_000

// notGranted is the part of the claim's rule (claimableRow) that leaves
// out an execution held by a live claim grant; ?2 is now. A reclaim
// grant reserves an active execution for its reclaim only: one left over
// after the execution became runnable again another way (an attempt
// timeout's retry, a cancel and a replay) does not hold it.
const notGranted = `
  AND NOT EXISTS (SELECT 1 FROM ff_claim_grant g
    WHERE g.partition_key = e.partition_key AND g.execution_id = e.execution_id
      AND g.kind = '` + grantKindClaim + `' AND g.expires_at_ms > ?2)`

// budgetHeld is true for an execution e one of whose policy budgets
// (budget_ids) has a dimension at or over its hard limit.
var budgetHeld = `EXISTS (SELECT 1
  FROM json_each(CASE WHEN json_valid(e.policy) THEN json_extract(e.policy, '$.budget_ids') END) bid
  JOIN ff_budget_policy bp ON bp.partition_key = ` + strconv.Itoa(budgetPartition) + ` AND bp.budget_id = bid.value
  JOIN json_each(CASE WHEN json_valid(bp.policy_json) THEN json_extract(bp.policy_json, '$.hard_limits') END) hl
  LEFT JOIN ff_budget_usage bu ON bu.partition_key = bp.partition_key AND bu.budget_id = bp.budget_id
    AND bu.dimensions_key = hl.key
  WHERE hl.value > 0 AND COALESCE(bu.current_value, 0) >= hl.value)`

// grantableRow is route 14's rule for one execution e: claimable (lane
// ?1, now ?2, the worker's capabilities ?3, no live grant), eligible now
// (a due delay is not promoted yet, and canonical grants only
// eligible_now), and no budget at its hard limit.
var grantableRow = claimableRow + `
  AND e.eligibility_state = 'eligible_now' AND NOT ` + budgetHeld

var (
	// qGrantPickReady walks the ready index's eligible-now candidates of
	// the lane in claim order and stops at the first grantable one.
	qGrantPickReady = hotStmt(`SELECT e.partition_key, e.execution_id
FROM ffsqlite_ready r INDEXED BY ffsqlite_ready_now CROSS JOIN main.ff_exec_core e ON e.rowid = r.exec_rowid
WHERE r.lane_id = ?1 AND r.due_at IS NULL AND ` + grantableRow + `
ORDER BY r.priority DESC, r.created_at_ms, r.exec_rowid LIMIT 1`)

	// qGrantPickSchema is qGrantPickReady from the schema alone (a
	// backend whose ready index tests turned off).
	qGrantPickSchema = `WITH RECURSIVE ` + partsCTE + `
SELECT e.partition_key, e.execution_id
FROM parts CROSS JOIN ff_exec_core e
  ON e.partition_key = parts.p AND e.lane_id = ?1 AND e.lifecycle_phase = 'runnable'
WHERE ` + grantableRow + `
ORDER BY e.priority DESC, e.created_at_ms ASC, e.rowid ASC
LIMIT 1`

	qGrantsExpire = `DELETE FROM ff_claim_grant WHERE expires_at_ms <= ?1`

	qGrantInsert = `INSERT INTO ff_claim_grant (partition_key, grant_id, execution_id, kind, worker_id,
  worker_instance_id, lane_id, capability_hash, worker_capabilities, route_snapshot_json, admission_summary,
  grant_ttl_ms, issued_at_ms, expires_at_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)`

	qGrantRead = `SELECT execution_id, kind, worker_id, COALESCE(lane_id, ''), expires_at_ms
FROM ff_claim_grant WHERE partition_key = ?1 AND grant_id = ?2`

	qGrantDelete = `DELETE FROM ff_claim_grant WHERE partition_key = ?1 AND grant_id = ?2`

	qGrantLive = `SELECT EXISTS (SELECT 1 FROM ff_claim_grant
  WHERE partition_key = ?1 AND execution_id = ?2 AND expires_at_ms > ?3)`

	qGrantExecState = `SELECT lifecycle_phase, ownership_state, eligibility_state, attempt_state
FROM ff_exec_core WHERE partition_key = ?1 AND execution_id = ?2`
)

// ClaimGrantArgs is route 14's request: the worker (path), its instance,
// the lane, its capabilities and how long the grant lives.
type ClaimGrantArgs struct {
	WorkerID         string   `json:"worker_id"`
	WorkerInstanceID string   `json:"worker_instance_id"`
	LaneID           string   `json:"lane_id"`
	Capabilities     []string `json:"capabilities"`
	// GrantTTLMS is the grant's life, 1 to MaxGrantTTLMS.
	GrantTTLMS int64 `json:"grant_ttl_ms"`
}

// ClaimGrant is an issued grant: route 14's 200 body.
type ClaimGrant struct {
	ExecutionID  ExecutionID `json:"execution_id"`
	PartitionKey string      `json:"partition_key"`
	GrantKey     string      `json:"grant_key"`
	ExpiresAtMS  int64       `json:"expires_at_ms"`
}

// checkGrantTTL is the grant_ttl_ms rule of routes 13 and 14.
func checkGrantTTL(op string, ttl int64) error {
	if ttl < 1 || ttl > MaxGrantTTLMS {
		return validation(op, "invalid_input", "grant_ttl_ms must be in 1..=%d", MaxGrantTTLMS)
	}
	return nil
}

// partitionLabel renders a partition as upstream's "{fp:N}".
func partitionLabel(part int64) string { return fmt.Sprintf("{fp:%d}", part) }

// IssueClaimGrant is route 14: it walks the lane's eligible executions in
// claim order (priority, then age), skips those whose required
// capabilities the worker lacks, those whose budget is at a hard limit
// and those another live grant holds, blocks those its quota refuses,
// and grants the first one left to the
// worker for args.GrantTTLMS. It returns nil, nil when nothing is
// grantable. The execution stays eligible until ClaimFromGrant consumes
// the grant or it expires.
func (b *Backend) IssueClaimGrant(ctx context.Context, args ClaimGrantArgs) (*ClaimGrant, error) {
	const op = "claim_for_worker"
	p, err := prepareClaim(op, ClaimArgs{WorkerID: args.WorkerID, WorkerInstanceID: args.WorkerInstanceID,
		LaneID: args.LaneID, Capabilities: args.Capabilities})
	if err != nil {
		return nil, err
	}
	if err := checkGrantTTL(op, args.GrantTTLMS); err != nil {
		return nil, err
	}
	var out *ClaimGrant
	err = b.write(ctx, op, func(w *wtx) error {
		out = nil
		if _, err := w.exec(qGrantsExpire, w.now); err != nil {
			return err
		}
		q := qGrantPickReady
		if w.b.in.readyOff {
			q = qGrantPickSchema
		} else if err := w.refreshReady(); err != nil {
			return err
		}
		var (
			part   int64
			key    []byte
			quotas quotaAdmission
		)
		for {
			err := w.queryRow(q, args.LaneID, w.now, p.capsJSON).Scan(&part, &key)
			if errors.Is(err, sql.ErrNoRows) {
				return nil
			}
			if err != nil {
				return err
			}
			// Quota admission (quota_admission.go) at issue, as the
			// scheduler admits before it grants: a refused candidate is
			// blocked (out of the walk) and the next one is tried.
			ok, err := quotas.admit(w, part, key)
			if err != nil {
				return err
			}
			if ok {
				break
			}
		}
		id, err := execIDFromRow(part, key)
		if err != nil {
			return err
		}
		g, err := w.insertGrant(grantKindClaim, id, grantFields{worker: args.WorkerID, instance: args.WorkerInstanceID,
			lane: args.LaneID, capsJSON: p.capsJSON, ttl: args.GrantTTLMS})
		if err != nil {
			return err
		}
		out = &g
		return nil
	})
	return out, err
}

// grantFields are the stored fields of a grant besides its execution.
type grantFields struct {
	worker, instance, lane string
	capsJSON               string
	capabilityHash         *string
	routeSnapshot          *string
	admissionSummary       *string
	ttl                    int64
}

// insertGrant stores a grant of kind for id and returns it.
func (w *wtx) insertGrant(kind string, id ExecutionID, f grantFields) (ClaimGrant, error) {
	part, key := id.key()
	gid := uuid.New()
	expires := w.now + f.ttl
	if _, err := w.exec(qGrantInsert, part, gid[:], key, kind, f.worker, f.instance, f.lane, f.capabilityHash,
		f.capsJSON, f.routeSnapshot, f.admissionSummary, f.ttl, w.now, expires); err != nil {
		return ClaimGrant{}, err
	}
	return ClaimGrant{ExecutionID: id, PartitionKey: partitionLabel(part), GrantKey: gid.String(), ExpiresAtMS: expires}, nil
}

// storedGrant is a grant row as consumption reads it.
type storedGrant struct {
	execKey               []byte
	kind, worker, lane    string
	expires               int64
	found, live, matchesX bool
}

// readGrant reads grant gid in id's partition; matchesX says whether it
// is a grant of id.
func (w *wtx) readGrant(id ExecutionID, gid uuid.UUID) (storedGrant, error) {
	part, key := id.key()
	var g storedGrant
	err := w.queryRow(qGrantRead, part, gid[:]).Scan(&g.execKey, &g.kind, &g.worker, &g.lane, &g.expires)
	if errors.Is(err, sql.ErrNoRows) {
		return g, nil
	}
	if err != nil {
		return g, err
	}
	g.found, g.live = true, g.expires > w.now
	g.matchesX = string(g.execKey) == string(key)
	return g, nil
}

// deleteGrant removes grant gid of id's partition.
func (w *wtx) deleteGrant(id ExecutionID, gid uuid.UUID) error {
	part, _ := id.key()
	_, err := w.exec(qGrantDelete, part, gid[:])
	return err
}

// parseGrantKey checks a grant_key: a UUID, as ffsqlite issues them.
func parseGrantKey(op, s string) (uuid.UUID, error) {
	if s == "" {
		return uuid.UUID{}, validation(op, "invalid_input", "grant_key: must not be empty")
	}
	u, err := uuid.Parse(s)
	if err != nil || u.String() != s {
		return uuid.UUID{}, validation(op, "invalid_input", "grant_key: not a grant key issued by this server (got %q)", s)
	}
	return u, nil
}

// ClaimFromGrantArgs turns a route-14 grant into a lease
// (POST /v1/worker/claim-grant).
type ClaimFromGrantArgs struct {
	WorkerID         string      `json:"worker_id"`
	WorkerInstanceID string      `json:"worker_instance_id"`
	LaneID           string      `json:"lane_id"`
	ExecutionID      ExecutionID `json:"execution_id"`
	GrantKey         string      `json:"grant_key"`
	// LeaseTTLMS is the lease duration; 0 means DefaultLeaseTTLMS.
	LeaseTTLMS int64 `json:"lease_ttl_ms"`
}

// Grant-consumption error codes (409 contention, engine-canonical.md §2.5;
// active_attempt_exists is a KindConflict, as upstream's Conflict kind).
const (
	CodeInvalidClaimGrant     = "invalid_claim_grant"
	CodeClaimGrantExpired     = "claim_grant_expired"
	CodeExecutionNotLeaseable = "execution_not_leaseable"
	CodeActiveAttemptExists   = "active_attempt_exists"
	// CodeLeaseConflict: the execution is owned (a lease holds it, or one
	// is waiting for its reclaim).
	CodeLeaseConflict = "lease_conflict"
)

// ClaimFromGrant consumes a claim grant: the execution must still be
// unowned, runnable and eligible now, with no running attempt, the grant must be this execution's claim
// grant, issued to args.WorkerID for args.LaneID and not expired. The
// grant is deleted and the execution leased exactly as Claim leases it
// (a new attempt, or the attempt paused by a suspend, a delay or a wait
// for children resumed with handle kind Resumed). Failures are
// KindContention errors with the codes above (409).
func (b *Backend) ClaimFromGrant(ctx context.Context, args ClaimFromGrantArgs) (*Lease, error) {
	const op = "claim_from_grant"
	claim := ClaimArgs{WorkerID: args.WorkerID, WorkerInstanceID: args.WorkerInstanceID, LaneID: args.LaneID,
		LeaseTTLMS: args.LeaseTTLMS}
	p, err := prepareClaim(op, claim)
	if err != nil {
		return nil, err
	}
	if args.ExecutionID.IsZero() {
		return nil, validation(op, "invalid_input", "execution_id: required")
	}
	gid, err := parseGrantKey(op, args.GrantKey)
	if err != nil {
		return nil, err
	}
	var lease *Lease
	err = b.write(ctx, op, func(w *wtx) error {
		id := args.ExecutionID
		part, key := id.key()
		var lifecycle, ownership, eligibility, attemptState string
		err := w.queryRow(qGrantExecState, part, key).Scan(&lifecycle, &ownership, &eligibility, &attemptState)
		if errors.Is(err, sql.ErrNoRows) {
			return execNotFound(op, id)
		}
		if err != nil {
			return err
		}
		// §2.5's order: leaseable (runnable, unowned, eligible now) first,
		// then the attempt state, then the grant.
		switch {
		case ownership != "unowned":
			return newErr(KindContention, op, CodeLeaseConflict, "execution %s is owned (%s)", id, ownership)
		case lifecycle != "runnable" || eligibility != "eligible_now":
			return newErr(KindContention, op, CodeExecutionNotLeaseable,
				"execution %s is not leaseable (%s, %s)", id, lifecycle, eligibility)
		case attemptState == "running_attempt":
			// A Conflict upstream (server-api.md §1.3), not a contention.
			return &Error{Kind: KindConflict, Op: op, Code: CodeActiveAttemptExists, Msg: "ActiveAttemptExists"}
		}
		g, err := w.readGrant(id, gid)
		if err != nil {
			return err
		}
		switch {
		case !g.found || !g.matchesX || g.kind != grantKindClaim:
			return newErr(KindContention, op, CodeInvalidClaimGrant, "no claim grant %s for execution %s", args.GrantKey, id)
		case g.worker != args.WorkerID:
			return newErr(KindContention, op, CodeInvalidClaimGrant, "claim grant %s was issued to another worker", args.GrantKey)
		case g.lane != args.LaneID:
			return newErr(KindContention, op, CodeInvalidClaimGrant, "claim grant %s was issued for lane %q", args.GrantKey, g.lane)
		case !g.live:
			return newErr(KindContention, op, CodeClaimGrantExpired, "claim grant %s expired at %d", args.GrantKey, g.expires)
		}
		if err := w.deleteGrant(id, gid); err != nil {
			return err
		}
		lease, err = w.grantLease(part, key, attemptState, claim, p.ttl)
		return err
	})
	if err != nil {
		return nil, err
	}
	return lease, nil
}
