package backend

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/google/uuid"
)

// Quota admission: an ffsqlite extension. Upstream stores quota policies
// (route 26) but never attaches one to an execution, so its admission
// never runs over REST (engine-canonical.md C9). ffsqlite lets a create
// attach one, policy.quota_policy_id, kept in ff_exec_core.policy with the
// rest of the policy (the schema has no other place for it), and enforces
// the policy when the execution is claimed (spec §4.11):
//
//   - Rate: the admissions of the last window_seconds are the rows of
//     ff_quota_window (one per admission); entries older than the window
//     are dropped first; with max_requests_per_window admissions in the
//     window the claim is refused (RateExceeded), until the oldest slides
//     out.
//   - Concurrency: an admitted execution holds a slot while it is active
//     (leased). Each admission writes the execution's ff_quota_admitted
//     row (expires_at_ms one window later, as canonical's marker); the
//     slots are the rows whose execution is active now, counted at each
//     admission against ff_exec_core, so a release by any path or process
//     (complete, fail, cancel, suspend, delay, revoke, lease expiry,
//     deadline, skip) frees its slot without a counter to keep in step.
//     Rows of executions no longer active are dropped by the next
//     admission of their quota (and by the reconciler), so the count reads
//     about the slots held. ff_quota_policy.active_concurrency stores the
//     count as of the last reconciler pass (inspect counts live). With
//     max_concurrent slots held the claim is refused (ConcurrencyExceeded).
//   - 0 is unlimited for either limit; a window of 0 keeps nothing, so it
//     never limits the rate.
//   - Every claim of an attached execution is an admission: a retry, a
//     requeued lease or a resumed suspension is another request in the
//     window. Canonical's AlreadyAdmitted (a live marker skips the check)
//     exists for a scheduler that admits, then issues a grant in another
//     step and retries; ffsqlite admits and leases in one transaction, so
//     there is no half-done admission to retry.
//
// A refused candidate is blocked as canonical's admission block writes it
// (C8): eligibility blocked_by_quota, blocking reason waiting_for_quota,
// public state rate_limited, and a blocking detail naming the quota and
// the limit. That takes it out of the ready index (its triggers key on
// eligibility), and the claim goes on to the next candidate. The quota
// unblock reconciler (UnblockQuotas) re-checks blocked executions and
// makes the admissible ones eligible again, back into the ready index and
// with their priority and age; the claim then admits them for real.

// validateQuotaAttachment checks the form of policy.quota_policy_id: a
// hyphenated UUID. Whether the policy exists is checked in the create's
// transaction (checkQuotaAttachment).
func validateQuotaAttachment(op string, p *ExecutionPolicy) error {
	if p == nil || p.QuotaPolicyID == nil {
		return nil
	}
	if _, err := parseQuotaID(*p.QuotaPolicyID); err != nil {
		return validation(op, "invalid_input", "policy.quota_policy_id: not a valid UUID: %q", *p.QuotaPolicyID)
	}
	return nil
}

// parseQuotaID parses a quota id in its hyphenated form (36 characters,
// either case).
func parseQuotaID(s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.UUID{}, errors.New("not a hyphenated UUID")
	}
	return uuid.Parse(s)
}

var qQuotaExists = hotStmt(`SELECT EXISTS (SELECT 1 FROM ff_quota_policy
WHERE partition_key = ?1 AND quota_policy_id = ?2)`)

// checkQuotaAttachment fails a create whose policy names a quota policy
// that does not exist (nothing is written).
func (w *wtx) checkQuotaAttachment(op string, p *ExecutionPolicy) error {
	if p == nil || p.QuotaPolicyID == nil {
		return nil
	}
	id, err := parseQuotaID(*p.QuotaPolicyID)
	if err != nil {
		return validateQuotaAttachment(op, p)
	}
	var ok bool
	if err := w.queryRow(qQuotaExists, quotaPartition, id.String()).Scan(&ok); err != nil {
		return err
	}
	if !ok {
		return validation(op, "invalid_input", "policy.quota_policy_id: no quota policy %s (create it with POST /v1/quotas first)", id)
	}
	return nil
}

// slotHeld is true for an admitted execution e that holds a slot of its
// quota at time now (an SQL expression): it is active (leased), or it is
// waiting (runnable) under a live route-14 claim grant, which admitted it
// at issue (grant.go) and turns into a lease without admitting again. A
// granted execution that ended another way (a cancel, a deadline) frees
// its slot at once, not when the unused grant expires.
func slotHeld(now string) string {
	return `(e.lifecycle_phase = 'active' OR (e.lifecycle_phase = 'runnable' AND EXISTS (SELECT 1 FROM ff_claim_grant g
    WHERE g.partition_key = e.partition_key AND g.execution_id = e.execution_id
      AND g.kind = '` + grantKindClaim + `' AND g.expires_at_ms > ` + now + `)))`
}

// admittedExec joins an ff_quota_admitted row a to its execution e on
// e's primary key: execution_id is stored in its wire form
// "{fp:N}:<uuid>", the key is the partition N and the uuid's 16 bytes.
const admittedExec = `e.partition_key = CAST(substr(a.execution_id, 5, instr(a.execution_id, '}') - 5) AS INTEGER)
  AND e.execution_id = unhex(replace(substr(a.execution_id, instr(a.execution_id, '}:') + 2), '-', ''))`

var (
	// qQuotaOf reads the limits of the quota policy an execution is
	// attached to: no row when it has none (or a policy that is not JSON,
	// or names a policy that is gone). Create stored the id as a
	// hyphenated UUID, so lower() is its canonical form.
	qQuotaOf = hotStmt(`SELECT p.quota_policy_id, p.requests_per_window_seconds, p.max_requests_per_window,
  p.active_concurrency_cap
FROM ff_exec_core e CROSS JOIN ff_quota_policy p
  ON p.partition_key = ?3 AND p.quota_policy_id = lower(CASE WHEN json_valid(e.policy)
       AND json_type(e.policy, '$.quota_policy_id') = 'text' THEN json_extract(e.policy, '$.quota_policy_id') END)
WHERE e.partition_key = ?1 AND e.execution_id = ?2`)

	// The window: entries at or before now - window are out of it.
	qQuotaWindowTrim = hotStmt(`DELETE FROM ff_quota_window
WHERE partition_key = ?1 AND quota_policy_id = ?2 AND dimension = '' AND admitted_at_ms <= ?3`)
	// qQuotaWindowUse counts the window's admissions, up to the limit ?4
	// (the count stops there), and the oldest.
	qQuotaWindowUse = hotStmt(`SELECT count(*), min(t) FROM (SELECT admitted_at_ms AS t FROM ff_quota_window
WHERE partition_key = ?1 AND quota_policy_id = ?2 AND dimension = '' AND admitted_at_ms > ?3
ORDER BY admitted_at_ms LIMIT ?4)`)
	qQuotaWindowAdd = hotStmt(`INSERT INTO ff_quota_window (partition_key, quota_policy_id, dimension, admitted_at_ms, execution_id)
VALUES (?1, ?2, '', ?3, ?4) ON CONFLICT DO NOTHING`)

	qQuotaMarkerPut = hotStmt(`INSERT INTO ff_quota_admitted (partition_key, quota_policy_id, execution_id, admitted_at_ms, expires_at_ms)
VALUES (?1, ?2, ?3, ?4, ?5)
ON CONFLICT (partition_key, quota_policy_id, execution_id) DO UPDATE SET
  admitted_at_ms = excluded.admitted_at_ms, expires_at_ms = excluded.expires_at_ms`)

	// qQuotaMarkersDrop drops quota ?2's rows of executions that hold no
	// slot at ?3 (slotHeld), so that the slot count below reads about the
	// slots held.
	qQuotaMarkersDrop = hotStmt(`DELETE FROM ff_quota_admitted AS a
WHERE a.partition_key = ?1 AND a.quota_policy_id = ?2
  AND NOT EXISTS (SELECT 1 FROM ff_exec_core e WHERE ` + admittedExec + ` AND ` + slotHeld("?3") + `)`)

	// qQuotaSlots counts the slots held at ?4: admitted executions other
	// than ?3 that are active or hold a live claim grant (slotHeld).
	qQuotaSlots = hotStmt(`SELECT count(*) FROM ff_quota_admitted a CROSS JOIN ff_exec_core e ON ` + admittedExec + `
WHERE a.partition_key = ?1 AND a.quota_policy_id = ?2 AND a.execution_id <> ?3 AND ` + slotHeld("?4"))

	// qQuotaBlock blocks a runnable candidate; a due delay is dropped (the
	// execution is past it).
	qQuotaBlock = hotStmt(`UPDATE ff_exec_core SET eligibility_state = 'blocked_by_quota',
  blocking_reason = 'waiting_for_quota', public_state = 'rate_limited',
  raw_fields = json_set(json_remove(raw_fields, '$.delay_until'), '$.blocking_detail', ?3)
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'runnable'`)

	// qQuotaRedetail rewrites a blocked execution's detail unless it
	// already names the limit ?4 (a LIKE pattern).
	qQuotaRedetail = `UPDATE ff_exec_core SET raw_fields = json_set(raw_fields, '$.blocking_detail', ?3)
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'runnable'
  AND eligibility_state = 'blocked_by_quota'
  AND COALESCE(json_extract(raw_fields, '$.blocking_detail'), '') NOT LIKE ?4`

	qQuotaUnblock = `UPDATE ff_exec_core SET eligibility_state = 'eligible_now',
  blocking_reason = 'waiting_for_worker', public_state = 'waiting',
  raw_fields = json_remove(raw_fields, '$.blocking_detail')
WHERE partition_key = ?1 AND execution_id = ?2 AND lifecycle_phase = 'runnable'
  AND eligibility_state = 'blocked_by_quota'`

	// quotaBlockedCTE is the executions blocked by their quota, found the
	// way the delayed promoter finds delayed ones (every partition × every
	// lane, one lookup each on ff_exec_core_lane_phase_idx), as
	// blocked(p, x, pr, c, r, q): key, priority, age, rowid and the
	// lower-cased quota id their policy names (NULL: none).
	quotaBlockedCTE = partsCTE + `, blocked AS (
  SELECT e.partition_key AS p, e.execution_id AS x, e.priority AS pr, e.created_at_ms AS c, e.rowid AS r,
    lower(CASE WHEN json_valid(e.policy) AND json_type(e.policy, '$.quota_policy_id') = 'text'
      THEN json_extract(e.policy, '$.quota_policy_id') END) AS q
  FROM parts CROSS JOIN ff_lane_registry l CROSS JOIN ff_exec_core e
  WHERE e.partition_key = parts.p AND e.lane_id = l.lane_id AND e.lifecycle_phase = 'runnable'
    AND e.eligibility_state = 'blocked_by_quota')`

	// qQuotaBlockedIDs lists the quota ids blocked executions name (NULL
	// for one whose attachment is gone).
	qQuotaBlockedIDs = `WITH RECURSIVE ` + quotaBlockedCTE + `
SELECT DISTINCT q FROM blocked`

	// qQuotaBlocked picks the blocked executions an unblock pass
	// re-checks: per quota, its best ones (priority, then age) up to the
	// room ?3 (a JSON object quota id → room) gives it, and every one
	// whose quota is not in ?3 (no attachment, or a policy that is gone).
	// An execution its quota still refuses takes no place in the batch, so
	// a long backlog of one quota cannot keep another quota's executions
	// from being re-checked. ?1 (now) is unused.
	qQuotaBlocked = `WITH RECURSIVE ` + quotaBlockedCTE + `,
ranked AS (SELECT b.p, b.x, room.key AS k, room.value AS n,
    row_number() OVER (PARTITION BY b.q ORDER BY b.pr DESC, b.c, b.p, b.r) AS rn
  FROM blocked AS b LEFT JOIN json_each(?3) AS room ON room.key = b.q
  WHERE room.key IS NULL OR room.value > 0)
SELECT p, x FROM ranked WHERE ?1 IS NOT NULL AND (k IS NULL OR rn <= n)
LIMIT ?2`

	// qQuotaRedetailRefused rewrites the detail of the blocked executions
	// of the quotas in ?1 (a JSON object quota id → [detail, LIKE pattern
	// of its limit]) unless it already names that limit.
	qQuotaRedetailRefused = `WITH RECURSIVE ` + quotaBlockedCTE + `
UPDATE ff_exec_core AS t SET raw_fields = json_set(t.raw_fields, '$.blocking_detail', json_extract(d.value, '$[0]'))
FROM blocked JOIN json_each(?1) AS d ON d.key = blocked.q
WHERE t.partition_key = blocked.p AND t.execution_id = blocked.x
  AND COALESCE(json_extract(t.raw_fields, '$.blocking_detail'), '') NOT LIKE json_extract(d.value, '$[1]')`

	qQuotaLimits = `SELECT quota_policy_id, requests_per_window_seconds, max_requests_per_window, active_concurrency_cap
FROM ff_quota_policy WHERE partition_key = ?1 AND quota_policy_id = ?2`

	// qQuotaMarkersSweep drops the rows of executions that hold no slot
	// at ?2 (slotHeld), of every quota.
	qQuotaMarkersSweep = `DELETE FROM ff_quota_admitted AS a WHERE a.partition_key = ?1
  AND NOT EXISTS (SELECT 1 FROM ff_exec_core e WHERE ` + admittedExec + ` AND ` + slotHeld("?2") + `)`

	// qQuotaRecount stores every policy's slot count.
	qQuotaRecount = `UPDATE ff_quota_policy AS p SET active_concurrency = n.c, updated_at_ms = ?2
FROM (SELECT q.quota_policy_id AS id, (SELECT count(*) FROM ff_quota_admitted a CROSS JOIN ff_exec_core e ON ` + admittedExec + `
        WHERE a.partition_key = q.partition_key AND a.quota_policy_id = q.quota_policy_id
          AND ` + slotHeld("?2") + `) AS c
      FROM ff_quota_policy q WHERE q.partition_key = ?1) AS n
WHERE p.partition_key = ?1 AND p.quota_policy_id = n.id AND p.active_concurrency <> n.c`
)

// quotaLimits is one ff_quota_policy row's limits.
type quotaLimits struct {
	id                        string
	windowS, maxReq, maxConcr int64
}

// windowMS is the window in milliseconds, saturated.
func (q quotaLimits) windowMS() int64 {
	if q.windowS > math.MaxInt64/1000 {
		return math.MaxInt64
	}
	return q.windowS * 1000
}

// quotaVerdict is one admission check.
type quotaVerdict struct {
	// admit: the execution may be leased now.
	admit bool
	// detail names the quota and the limit that refused it.
	detail string
	// slots is the number of slots others hold (-1: not counted, no cap).
	slots int64
	// rateRoom and slotRoom are how many more admissions each limit
	// allows now (math.MaxInt64: unlimited).
	rateRoom, slotRoom int64
}

// attachedQuota returns the quota policy execution (part, key) is
// attached to; ok is false when it has none, or names a policy that is
// gone (then nothing limits it).
func (w *wtx) attachedQuota(part int64, key []byte) (q quotaLimits, ok bool, err error) {
	err = w.queryRow(qQuotaOf, part, key, quotaPartition).Scan(&q.id, &q.windowS, &q.maxReq, &q.maxConcr)
	if errors.Is(err, sql.ErrNoRows) {
		return q, false, nil
	}
	return q, err == nil, err
}

// checkQuota runs the admission rule of q for execution eid at w.now
// without recording anything (the window is trimmed, which changes no
// answer; every quota's window is kept, limited or not, so inspect shows
// its use).
func (w *wtx) checkQuota(q quotaLimits, eid string) (quotaVerdict, error) {
	v := quotaVerdict{slots: -1, rateRoom: math.MaxInt64, slotRoom: math.MaxInt64}
	now := w.now
	floor := now - q.windowMS()
	if q.windowMS() > now {
		floor = math.MinInt64
	}
	if _, err := w.exec(qQuotaWindowTrim, quotaPartition, q.id, floor); err != nil {
		return v, err
	}
	if q.maxReq > 0 {
		var used int64
		var oldest sql.NullInt64
		if err := w.queryRow(qQuotaWindowUse, quotaPartition, q.id, floor, q.maxReq).Scan(&used, &oldest); err != nil {
			return v, err
		}
		v.rateRoom = q.maxReq - used
		if v.rateRoom <= 0 {
			retry := int64(0)
			if oldest.Valid {
				retry = max(oldest.Int64+q.windowMS()-now, 0)
			}
			v.detail = fmt.Sprintf("quota %s: rate limit %d per %ds reached (retry after %d ms)", q.id, q.maxReq, q.windowS, retry)
			return v, nil
		}
	}
	if q.maxConcr > 0 {
		if _, err := w.exec(qQuotaMarkersDrop, quotaPartition, q.id, now); err != nil {
			return v, err
		}
		if err := w.queryRow(qQuotaSlots, quotaPartition, q.id, eid, now).Scan(&v.slots); err != nil {
			return v, err
		}
		v.slotRoom = q.maxConcr - v.slots
		if v.slotRoom <= 0 {
			v.detail = fmt.Sprintf("quota %s: concurrency cap %d reached", q.id, q.maxConcr)
			return v, nil
		}
	}
	v.admit = true
	return v, nil
}

// quotaAdmission is one claim transaction's admissions. A quota that
// refused a candidate refuses every later one of the transaction (only
// the transaction's own admissions change it), so its refusal is kept and
// the next candidates attached to it are blocked without checking again:
// a claim that walks past a long backlog of blocked candidates pays one
// lookup and one update for each.
type quotaAdmission struct {
	refused map[string]string // quota id → blocking detail
}

// admit is the claim's admission of candidate (part, key) in w: true when
// it may be leased (no quota, or admitted: the window entry and the
// admitted row recorded), false when it was blocked instead.
func (a *quotaAdmission) admit(w *wtx, part int64, key []byte) (bool, error) {
	if w.b.in.quotaOff {
		return true, nil
	}
	q, ok, err := w.attachedQuota(part, key)
	if err != nil || !ok {
		return true, err
	}
	if detail, ok := a.refused[q.id]; ok {
		return false, w.blockForQuota(part, key, detail)
	}
	id, err := execIDFromRow(part, key)
	if err != nil {
		return false, err
	}
	eid := id.String()
	v, err := w.checkQuota(q, eid)
	if err != nil {
		return false, err
	}
	if !v.admit {
		if a.refused == nil {
			a.refused = map[string]string{}
		}
		a.refused[q.id] = v.detail
		return false, w.blockForQuota(part, key, v.detail)
	}
	if err := w.addWindowEntry(q.id, eid); err != nil {
		return false, err
	}
	expires := w.now + min(q.windowMS(), math.MaxInt64-w.now)
	if _, err := w.exec(qQuotaMarkerPut, quotaPartition, q.id, eid, w.now, expires); err != nil {
		return false, err
	}
	return true, nil
}

// addWindowEntry records execution eid's admission in quota id's window
// at now. The window's key holds the admission time and the execution,
// so a second admission of the same execution in the same millisecond (a
// retry claimed at once) is stored at the next free millisecond instead
// of being lost: the window then counts it, and it leaves the window a
// millisecond late, which errs towards refusing.
func (w *wtx) addWindowEntry(id, eid string) error {
	for at := w.now; ; at++ {
		n, err := w.affected(qQuotaWindowAdd, quotaPartition, id, at, eid)
		if err != nil || n > 0 {
			return err
		}
	}
}

// blockForQuota blocks claim candidate (part, key): rate_limited, out of
// the ready index, with detail.
func (w *wtx) blockForQuota(part int64, key []byte, detail string) error {
	w.b.in.quotaHits.Add(1)
	_, err := w.exec(qQuotaBlock, part, key, detail)
	return err
}

// QuotaHits returns how many claim candidates this backend blocked by
// their quota (rate_limited) since it opened: the ff_quota_hit_total
// metric.
func (b *Backend) QuotaHits() int64 { return b.in.quotaHits.Load() }

// DefaultQuotaUnblockBatch is how many blocked executions one quota
// unblock pass re-checks.
const DefaultQuotaUnblockBatch = 100

// UnblockQuotas is the quota unblock reconciler: it re-checks up to limit
// executions blocked by their quota (rate_limited, blocked_by_quota) and
// makes those that their quota would admit now eligible again (waiting),
// no more per quota than it has room for in this pass; an execution whose
// quota policy or attachment is gone is unblocked too. It also drops
// expired admission markers that hold no slot and stores each policy's
// slot count (active_concurrency), so inspect and a reader of the file see
// current figures. Processed counts the executions unblocked.
func (b *Backend) UnblockQuotas(ctx context.Context, nowMS int64, limit int) (SweepReport, error) {
	const op = "quota_unblock"
	if limit <= 0 {
		return SweepReport{}, nil
	}
	var ids []string
	rows, err := b.in.reader.QueryContext(ctx, qQuotaBlockedIDs)
	if err != nil {
		return SweepReport{}, transport(op, err)
	}
	unattached := false // a blocked execution whose attachment is gone
	for rows.Next() {
		var id sql.NullString
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return SweepReport{}, transport(op, err)
		}
		if !id.Valid {
			unattached = true
			continue
		}
		ids = append(ids, id.String)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return SweepReport{}, transport(op, err)
	}
	// The room each blocked execution's quota has now (0: it still
	// refuses), which picks the candidates below. The executions of a
	// quota that still refuses are not candidates: their detail is
	// rewritten here when the refusing limit changed.
	room := map[string]int64{}
	if err := b.write(ctx, op, func(w *wtx) error {
		w.now = nowMS
		clear(room)
		refused := map[string][2]string{} // quota id → detail, LIKE pattern of its limit
		if _, err := w.exec(qQuotaMarkersSweep, quotaPartition, nowMS); err != nil {
			return err
		}
		if _, err := w.exec(qQuotaRecount, quotaPartition, nowMS); err != nil {
			return err
		}
		for _, id := range ids {
			var q quotaLimits
			err := w.queryRow(qQuotaLimits, quotaPartition, id).Scan(&q.id, &q.windowS, &q.maxReq, &q.maxConcr)
			if errors.Is(err, sql.ErrNoRows) {
				unattached = true // the policy is gone: its executions are unblocked
				continue
			}
			if err != nil {
				return err
			}
			v, err := w.checkQuota(q, "")
			if err != nil {
				return err
			}
			n := int64(0)
			if v.admit {
				n = min(v.rateRoom, v.slotRoom, int64(limit))
			} else {
				lim, _, _ := strings.Cut(v.detail, " reached")
				refused[id] = [2]string{v.detail, lim + " reached%"}
			}
			room[id] = n
		}
		if len(refused) == 0 {
			return nil
		}
		details, err := json.Marshal(refused)
		if err != nil {
			return err
		}
		_, err = w.exec(qQuotaRedetailRefused, string(details))
		return err
	}); err != nil {
		return SweepReport{}, err
	}
	someRoom := unattached
	for _, n := range room {
		someRoom = someRoom || n > 0
	}
	if !someRoom {
		return SweepReport{}, nil // every blocked execution's quota still refuses it
	}
	roomJSON, err := json.Marshal(room)
	if err != nil {
		return SweepReport{}, err
	}
	cands, err := b.findSweepCandidates(ctx, qQuotaBlocked, false, nowMS, limit, string(roomJSON))
	if err != nil {
		return SweepReport{}, transport(op, err)
	}
	// Room already handed out in this pass, per quota: an unblocked
	// execution is not admitted until it is claimed, so the checks of the
	// next ones would not see it.
	granted := map[string]int64{}
	return b.sweepRows(ctx, op, nowMS, cands, func(w *wtx, c sweepCandidate) (bool, error) {
		part, key := c.id.key()
		q, ok, err := w.attachedQuota(part, key)
		if err != nil {
			return false, err
		}
		if ok {
			v, err := w.checkQuota(q, c.id.String())
			if err != nil {
				return false, err
			}
			if !v.admit {
				// Still refused, maybe by the other limit now: the detail
				// says which (rewritten only when the limit changed).
				limit, _, _ := strings.Cut(v.detail, " reached")
				_, err := w.exec(qQuotaRedetail, part, key, v.detail, limit+" reached%")
				return false, err
			}
			if min(v.rateRoom, v.slotRoom) <= granted[q.id] {
				return false, nil
			}
		}
		n, err := w.affected(qQuotaUnblock, part, key)
		if n == 1 && ok {
			granted[q.id]++
		}
		return n == 1, err
	}), nil
}
