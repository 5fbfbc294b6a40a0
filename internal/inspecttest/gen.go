// Package inspecttest builds databases for inspect's tests and benchmarks:
// Generate fills a file to N executions fast (one transaction, prepared
// statements) for speed measurements, and Seed writes a small, fully
// deterministic database (fixed ids and timestamps) for golden files. Both
// write rows exactly as docs/storage.md describes them.
package inspecttest

import (
	"context"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/migrate"
)

// GenOptions sizes a generated database.
type GenOptions struct {
	// Executions is how many ff_exec_core rows to write.
	Executions int
	// NowMS is the instant the data is generated around: leases, delays and
	// resets are spread on both sides of it.
	NowMS int64
	// Seed makes the content reproducible.
	Seed uint64
}

// Lanes are the lanes Generate spreads executions over.
var Lanes = []string{"default", "llm", "tools", "email", "batch", "etl", "webhooks", "slow"}

// Generate creates a new database file at path, migrates it with the
// embedded migrations (backend.Open needs FF_DEV_MODE=1), fills it with
// o.Executions executions and switches it to WAL, as a dev database would
// be. It refuses an existing file.
func Generate(ctx context.Context, path string, o GenOptions) error {
	b, err := backend.Open(ctx, path, backend.Options{DisableWAL: true, CreateDirs: true, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	if _, err := migrate.UpLatest(ctx, b); err != nil {
		b.Close(ctx)
		return err
	}
	if err := b.Close(ctx); err != nil {
		return err
	}
	u := url.URL{Scheme: "file", Path: path}
	db, err := sql.Open("sqlite", u.String()+"?_pragma=synchronous(OFF)&_pragma=journal_mode(MEMORY)&_pragma=cache_size(-262144)")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if err := Fill(ctx, db, o); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "PRAGMA journal_mode=WAL")
	return err
}

// state is one row shape of the state vector.
type state struct {
	weight                                                            int // per 10000
	phase, ownership, eligibility, public, attempt, blocking, outcome string
	claimed                                                           bool // has an attempt row
}

var states = []state{
	{6900, "terminal", "unowned", "not_applicable", "completed", "attempt_terminal", "none", "success", true},
	{600, "terminal", "unowned", "not_applicable", "failed", "attempt_terminal", "none", "failed", true},
	{200, "terminal", "unowned", "not_applicable", "cancelled", "attempt_terminal", "none", "cancelled", true},
	{50, "terminal", "unowned", "not_applicable", "expired", "attempt_terminal", "none", "expired", true},
	{50, "terminal", "unowned", "not_applicable", "skipped", "none", "none", "skipped", false},
	{1000, "runnable", "unowned", "eligible_now", "waiting", "pending_first_attempt", "waiting_for_worker", "none", false},
	{300, "runnable", "unowned", "not_eligible_until_time", "delayed", "pending_first_attempt", "waiting_for_delay", "none", false},
	{500, "active", "leased", "not_applicable", "active", "running_attempt", "none", "none", true},
	{150, "suspended", "unowned", "not_applicable", "suspended", "attempt_interrupted", "waiting_for_signal", "none", true},
	{150, "runnable", "unowned", "blocked_by_dependencies", "waiting_children", "pending_first_attempt", "waiting_for_children", "none", false},
	{50, "runnable", "unowned", "blocked_by_budget", "rate_limited", "pending_first_attempt", "waiting_for_budget", "none", false},
	{50, "runnable", "unowned", "eligible_now", "resumable", "attempt_interrupted", "waiting_for_worker", "none", true},
}

// laneWeights skews executions towards the first lanes, as real traffic is.
var laneWeights = []int{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2, 3, 4, 5, 6, 7}

func pick(r *rand.Rand) state {
	n := r.IntN(10000)
	for _, s := range states {
		if n < s.weight {
			return s
		}
		n -= s.weight
	}
	return states[0]
}

func genUUID(r *rand.Rand) []byte {
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b[:8], r.Uint64())
	binary.BigEndian.PutUint64(b[8:], r.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

// Fill writes o.Executions executions (with attempts, capabilities, flows,
// outbox events, budgets, quotas and workers) into a migrated database in
// one transaction.
func Fill(ctx context.Context, db *sql.DB, o GenOptions) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	prep := func(q string) *sql.Stmt {
		if err != nil {
			return nil
		}
		var s *sql.Stmt
		s, err = tx.PrepareContext(ctx, q)
		return s
	}
	insExec := prep(`INSERT INTO ff_exec_core (partition_key, execution_id, flow_id, lane_id, attempt_index,
		lifecycle_phase, ownership_state, eligibility_state, public_state, attempt_state, blocking_reason,
		cancellation_reason, cancelled_by, priority, created_at_ms, terminal_at_ms, deadline_at_ms, payload, result,
		policy, raw_fields, started_at_ms, lease_reclaim_count)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)`)
	insAttempt := prep(`INSERT INTO ff_attempt (partition_key, execution_id, attempt_index, worker_id, worker_instance_id,
		lease_epoch, lease_expires_at_ms, started_at_ms, terminal_at_ms, outcome, raw_fields)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	insCap := prep(`INSERT INTO ff_execution_capabilities (execution_id, capability) VALUES (?, ?)`)
	insDone := prep(`INSERT INTO ff_completion_event (partition_key, execution_id, flow_id, outcome, namespace,
		occurred_at_ms, committed_at_ms, dispatched_at_ms) VALUES (?, ?, ?, ?, 'default', ?, ?, ?)`)
	insLease := prep(`INSERT INTO ff_lease_event (execution_id, lease_id, event_type, occurred_at_ms, partition_key, namespace)
		VALUES (?, ?, ?, ?, ?, 'default')`)
	insFlow := prep(`INSERT INTO ff_flow_core (partition_key, flow_id, graph_revision, public_flow_state, created_at_ms, raw_fields)
		VALUES (0, ?, ?, 'open', ?, '{"node_count":4}')`)
	insEdge := prep(`INSERT INTO ff_edge (partition_key, flow_id, edge_id, upstream_eid, downstream_eid, policy)
		VALUES (0, ?, ?, ?, ?, '{"dependency_kind":"success_only","edge_state":"pending"}')`)
	if err != nil {
		return err
	}
	r := rand.New(rand.NewPCG(o.Seed, o.Seed^0x9e3779b97f4a7c15))
	now := o.NowMS
	payload := make([]byte, 64)
	result := make([]byte, 32)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	lanesSeen := map[string]bool{}
	var flowID []byte
	var prevInFlow []byte
	for i := 0; i < o.Executions; i++ {
		st := pick(r)
		lane := Lanes[laneWeights[r.IntN(len(laneWeights))]]
		lanesSeen[lane] = true
		id := genUUID(r)
		created := now - int64(o.Executions-i)*10 - int64(r.IntN(10))
		raw := map[string]any{
			"namespace": "default", "execution_kind": "llm_call", "creator_identity": "gendb",
			"tags":             map[string]string{"cairn.instance_id": fmt.Sprintf("inst-%d", r.IntN(16))},
			"terminal_outcome": st.outcome, "retry_count": 0, "replay_count": 0,
		}
		if st.public == "delayed" {
			raw["delay_until"] = now + int64(r.IntN(120000)) - 60000
		}
		if st.public == "failed" {
			raw["failure_class"], raw["failure_reason"] = "permanent", "boom"
		}
		rawJSON, _ := json.Marshal(raw)
		var fid any
		if i%20 < 4 { // 20% of executions in four-member chain flows
			if i%4 == 0 {
				flowID, prevInFlow = genUUID(r), nil
				if _, err := insFlow.ExecContext(ctx, flowID, 3, created); err != nil {
					return err
				}
			}
			fid = flowID
			if prevInFlow != nil {
				if _, err := insEdge.ExecContext(ctx, flowID, genUUID(r), prevInFlow, id); err != nil {
					return err
				}
			}
			prevInFlow = id
		}
		var terminal, started, res, cancelReason, cancelledBy any
		attemptIdx := 0
		if st.claimed {
			started = created + 5
		}
		if st.phase == "terminal" {
			terminal = created + 50
			if st.outcome == "success" {
				res = result
			}
			if st.outcome == "cancelled" {
				cancelReason, cancelledBy = "operator", "gendb"
			}
		}
		var deadline any
		if r.IntN(10) == 0 {
			deadline = created + 3600000
		}
		if _, err := insExec.ExecContext(ctx, 0, id, fid, lane, attemptIdx, st.phase, st.ownership, st.eligibility,
			st.public, st.attempt, st.blocking, cancelReason, cancelledBy, 0, created, terminal, deadline, payload, res,
			nil, string(rawJSON), started); err != nil {
			return err
		}
		if r.IntN(10) == 0 {
			if _, err := insCap.ExecContext(ctx, id, "gpu"); err != nil {
				return err
			}
		}
		wire := fmt.Sprintf("{fp:0}:%x-%x-%x-%x-%x", id[0:4], id[4:6], id[6:8], id[8:10], id[10:16])
		if st.claimed {
			var lease, outcome, aterm any
			if st.phase == "active" {
				lease = now + 30000
				if r.IntN(10) == 0 {
					lease = now - int64(r.IntN(60000)) - 1
				}
			}
			if st.phase == "terminal" {
				outcome, aterm = st.outcome, terminal
			}
			if st.phase == "suspended" || st.public == "resumable" {
				outcome = "interrupted"
			}
			w := r.IntN(16)
			araw := fmt.Sprintf(`{"attempt_id":"%x","lease_id":"%x","attempt_type":"initial","lane_id":%q}`, genUUID(r), genUUID(r), lane)
			if _, err := insAttempt.ExecContext(ctx, 0, id, 0, fmt.Sprintf("worker-%d", w), fmt.Sprintf("worker-%d-i", w),
				1, lease, started, aterm, outcome, araw); err != nil {
				return err
			}
			if _, err := insLease.ExecContext(ctx, wire, "lease", "acquired", started, 0); err != nil {
				return err
			}
		}
		if st.phase == "terminal" {
			if _, err := insDone.ExecContext(ctx, 0, id, fid, st.outcome, terminal, terminal, terminal); err != nil {
				return err
			}
		}
	}
	for _, lane := range Lanes {
		if !lanesSeen[lane] {
			continue
		}
		if _, err := tx.ExecContext(ctx, "INSERT OR IGNORE INTO ff_lane_registry (lane_id, registered_at_ms, registered_by) VALUES (?, ?, 'gendb')", lane, now-86400000); err != nil {
			return err
		}
	}
	for i := 0; i < 20; i++ {
		next := now + int64(i-5)*60000
		var breach any
		if i%7 == 0 {
			breach = now - 1000
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ff_budget_policy (partition_key, budget_id, policy_json, created_at_ms, updated_at_ms,
			scope_type, scope_id, enforcement_mode, last_breach_at_ms, next_reset_at_ms) VALUES (0, ?, ?, ?, ?, 'flow', '', 'strict', ?, ?)`,
			fmt.Sprintf("budget-%02d", i), `{"hard_limits":{"tokens":100000,"cost_cents":5000},"soft_limits":{"tokens":80000},"reset_interval_ms":3600000}`,
			now-86400000, now-1000, breach, next); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO ff_budget_usage (partition_key, budget_id, dimensions_key, current_value, updated_at_ms)
			VALUES (0, ?, 'tokens', ?, ?)`, fmt.Sprintf("budget-%02d", i), i*5000, now-1000); err != nil {
			return err
		}
	}
	for i := 0; i < 16; i++ {
		if _, err := tx.ExecContext(ctx, `INSERT INTO ff_worker_registry (namespace, worker_instance_id, worker_id, lanes, capabilities_csv,
			last_heartbeat_ms, liveness_ttl_ms, registered_at_ms) VALUES ('default', ?, ?, 'default,llm,tools', 'gpu', ?, 30000, ?)`,
			fmt.Sprintf("worker-%d-i", i), fmt.Sprintf("worker-%d", i), now-int64(i)*5000, now-86400000); err != nil {
			return err
		}
	}
	return tx.Commit()
}
