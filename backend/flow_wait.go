package backend

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/google/uuid"
)

// A worker waiting for its execution's dependencies (POST
// /v1/worker/wait-children): the running attempt pauses, like a delay,
// until the execution's edge group decides; then the next claim resumes
// the same attempt (handle kind Resumed), or the execution is skipped.

// pausedByWaitChildren marks an attempt paused by WaitForChildren
// (ff_attempt.raw_fields.paused).
const pausedByWaitChildren = "wait_children"

// WaitChildrenResult is WaitForChildren's answer:
// Waiting{unsatisfied_count} (the attempt is paused, the lease released),
// "AlreadySatisfied" (nothing to wait for: the worker keeps its lease) or
// "Skipped" (the dependencies can no longer be satisfied: the execution
// ended skipped).
type WaitChildrenResult struct {
	Waiting          bool
	Skipped          bool
	UnsatisfiedCount uint32
}

// MarshalJSON renders the externally tagged wire shape.
func (r WaitChildrenResult) MarshalJSON() ([]byte, error) {
	switch {
	case r.Waiting:
		return json.Marshal(map[string]map[string]uint32{"Waiting": {"unsatisfied_count": r.UnsatisfiedCount}})
	case r.Skipped:
		return json.Marshal("Skipped")
	}
	return json.Marshal("AlreadySatisfied")
}

var qWaitChildrenExec = `UPDATE ff_exec_core SET lifecycle_phase = 'runnable', ownership_state = 'unowned',
  eligibility_state = 'blocked_by_dependencies', blocking_reason = 'waiting_for_children',
  attempt_state = 'attempt_interrupted', public_state = 'waiting_children',
  raw_fields = json_set(raw_fields, '$.blocking_detail', ?3)
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'active'
RETURNING ` + evTagsReturning

// WaitForChildren interrupts the handle's running attempt until the
// execution's dependencies resolve. When its edge group (the edges
// applied to it, typically while it ran) is still pending, the execution
// becomes runnable / blocked_by_dependencies / waiting_for_children /
// attempt_interrupted (waiting_children), the lease is released (lease
// event "released") and the attempt pauses without ending. Once the group
// is satisfied the execution is eligible again and the next claim resumes
// the same attempt (same index and attempt id, epoch + 1, handle kind
// Resumed), with any data passed by the upstreams as its input; if the
// group becomes impossible the execution is skipped and the attempt ends.
// With nothing to wait for (no edges, or all satisfied) it answers
// AlreadySatisfied and the worker keeps running. Fenced like Renew.
func (b *Backend) WaitForChildren(ctx context.Context, h Handle) (WaitChildrenResult, error) {
	const op = "wait_for_children"
	var out WaitChildrenResult
	err := b.write(ctx, op, func(w *wtx) error {
		out = WaitChildrenResult{}
		f, err := w.fence(op, h)
		if err != nil {
			return err
		}
		ch, err := w.childHead(f.id)
		if err != nil || ch == nil {
			return err
		}
		fid, err := uuid.FromBytes(ch.flow)
		if ch.flow == nil || err != nil {
			return nil // not a flow member: nothing to wait for
		}
		fl, err := w.flow(op, fid)
		if KindOf(err) == KindNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		g, err := w.group(fl.part, ch.flow, f.key)
		if err != nil {
			return err
		}
		switch g.decision() {
		case decisionSatisfied:
			return nil
		case decisionImpossible:
			out.Skipped = true
			return w.skipExecution(f.id, ch, "an upstream did not succeed")
		}
		n, err := w.affected(qPauseAttemptFenced, f.part, f.key, int64(f.h.AttemptIndex), pausedByWaitChildren, w.now,
			int64(f.h.LeaseEpoch), f.h.LeaseID)
		if err != nil {
			return err
		}
		if n != 1 {
			return newErr(KindContention, op, CodeStaleLease, "stale lease: attempt changed")
		}
		var tags evTags
		detail := strconv.FormatInt(g.running, 10) + " dep(s) unresolved; the worker waits"
		if err := w.queryRow(qWaitChildrenExec, f.part, f.key, detail).Scan(tags.dest()...); err != nil {
			return err
		}
		out.Waiting, out.UnsatisfiedCount = true, uint32(max(g.running, 0))
		return w.leaseEventTagged(f.id, &tags, f.h.LeaseID, "released")
	})
	return out, err
}
