package inspecttest

import (
	"context"
	"database/sql"
	"encoding/hex"
	"fmt"
	"strings"
)

// SeedNowMS is the "now" the seeded database is built around
// (2026-01-01T00:00:00Z); pass it to inspect so ages are stable.
const SeedNowMS int64 = 1767225600000

// SeedUUID is the uuid of seeded execution n: 00000000-0000-4000-8000-0000000000NN.
func SeedUUID(n int) string { return fmt.Sprintf("00000000-0000-4000-8000-%012x", n) }

// SeedExec is the wire id of seeded execution n ({fp:0}, or {fp:3} for 18).
func SeedExec(n int) string {
	p := 0
	if n == 18 {
		p = 3
	}
	return fmt.Sprintf("{fp:%d}:%s", p, SeedUUID(n))
}

// Seeded flow ids.
const (
	SeedFlowDiamond = "f0000000-0000-4000-8000-000000000001" // e11 → e12, e13 → e14
	SeedFlowFailed  = "f0000000-0000-4000-8000-000000000002" // e15 → e16
)

func blob(uuid string) string { return "x'" + strings.ReplaceAll(uuid, "-", "") + "'" }

func xb(n int) string { return blob(SeedUUID(n)) }

// seedExec is one seeded execution.
type seedExec struct {
	n                                                                      int
	lane                                                                   string
	phase, ownership, eligibility, public, attemptState, blocking, outcome string
	flow                                                                   string
	attemptIndex, priority                                                 int
	createdAgo                                                             int64
	extraRaw                                                               string // extra raw_fields members, with a leading comma
}

var seedExecs = []seedExec{
	{1, "default", "runnable", "unowned", "eligible_now", "waiting", "pending_first_attempt", "waiting_for_worker", "none", "", 0, 5, 60000, `,"idempotency_key":"order-42"`},
	{2, "default", "runnable", "unowned", "not_eligible_until_time", "delayed", "pending_first_attempt", "waiting_for_delay", "none", "", 0, 0, 120000, `,"delay_until":1767225595000`},
	{3, "llm", "runnable", "unowned", "not_eligible_until_time", "delayed", "pending_first_attempt", "waiting_for_delay", "none", "", 0, 0, 90000, `,"delay_until":1767225660000`},
	{4, "llm", "active", "leased", "not_applicable", "active", "running_attempt", "none", "none", "", 0, 0, 300000, ``},
	{5, "llm", "active", "leased", "not_applicable", "active", "running_attempt", "none", "none", "", 1, 0, 600000, ``},
	{6, "tools", "suspended", "unowned", "not_applicable", "suspended", "attempt_interrupted", "waiting_for_signal", "none", "", 0, 0, 900000, ``},
	{7, "default", "terminal", "unowned", "not_applicable", "completed", "attempt_terminal", "none", "success", "", 0, 0, 3600000, ``},
	{8, "tools", "terminal", "unowned", "not_applicable", "failed", "attempt_terminal", "none", "failed", "", 0, 0, 3000000, `,"failure_class":"permanent","failure_reason":"tool returned 500"`},
	{9, "default", "terminal", "unowned", "not_applicable", "cancelled", "attempt_terminal", "none", "cancelled", "", 0, 0, 2400000, ``},
	{10, "tools", "runnable", "unowned", "eligible_now", "resumable", "attempt_interrupted", "waiting_for_worker", "none", "", 0, 0, 1800000, ``},
	{11, "default", "terminal", "unowned", "not_applicable", "completed", "attempt_terminal", "none", "success", SeedFlowDiamond, 0, 0, 7200000, ``},
	{12, "default", "terminal", "unowned", "not_applicable", "completed", "attempt_terminal", "none", "success", SeedFlowDiamond, 0, 0, 7100000, ``},
	{13, "default", "runnable", "unowned", "eligible_now", "waiting", "pending_first_attempt", "waiting_for_worker", "none", SeedFlowDiamond, 0, 0, 7000000, ``},
	{14, "default", "runnable", "unowned", "blocked_by_dependencies", "waiting_children", "pending_first_attempt", "waiting_for_children", "none", SeedFlowDiamond, 0, 0, 6900000, ``},
	{15, "llm", "terminal", "unowned", "not_applicable", "expired", "attempt_terminal", "none", "expired", SeedFlowFailed, 0, 0, 86400000, ``},
	{16, "llm", "terminal", "unowned", "not_applicable", "skipped", "none", "none", "skipped", SeedFlowFailed, 0, 0, 86300000, ``},
	{17, "llm", "runnable", "unowned", "blocked_by_budget", "rate_limited", "pending_first_attempt", "waiting_for_budget", "none", "", 0, 0, 30000, `,"blocking_detail":"budget b-breached: requests at hard limit"`},
	{18, "tools", "runnable", "unowned", "eligible_now", "waiting", "pending_first_attempt", "waiting_for_worker", "none", "", 0, 0, 15000, ``},
}

func seedLane(n int) string {
	for _, e := range seedExecs {
		if e.n == n {
			return e.lane
		}
	}
	return ""
}

// Seed writes the deterministic test data set into a fully migrated
// database through db (a writable handle), in one transaction. It covers
// every public state, leases held and expired, a retried attempt, a
// suspension with a waitpoint, two flows (a diamond and a failed chain),
// budgets ok / over soft / in breach, quotas, workers alive and expired,
// and events in all four outboxes. Ids and timestamps are fixed relative to
// SeedNowMS.
func Seed(ctx context.Context, db *sql.DB) error {
	const now = SeedNowMS
	var s []string
	add := func(format string, args ...any) { s = append(s, fmt.Sprintf(format, args...)) }

	for _, l := range []string{"default", "llm", "tools", "idle"} {
		add(`INSERT INTO ff_lane_registry (lane_id, registered_at_ms, registered_by) VALUES ('%s', %d, 'seed')`, l, now-86400000*2)
	}
	for _, e := range seedExecs {
		part := 0
		if e.n == 18 {
			part = 3
		}
		created := now - e.createdAgo
		flow := "NULL"
		if e.flow != "" {
			flow = blob(e.flow)
		}
		tags := `{"cairn.instance_id":"inst-1"}`
		if e.n == 1 {
			tags = `{"cairn.instance_id":"inst-1","team":"core"}`
		}
		retries := 0
		if e.n == 5 {
			retries = 1
		}
		raw := fmt.Sprintf(`{"namespace":"default","execution_kind":"llm_call","creator_identity":"seed","tags":%s,"terminal_outcome":"%s","retry_count":%d,"replay_count":0%s}`,
			tags, e.outcome, retries, e.extraRaw)
		started, terminal, result, cancelR, cancelBy, policy, deadline := "NULL", "NULL", "NULL", "NULL", "NULL", "NULL", "NULL"
		if e.attemptState != "pending_first_attempt" && e.public != "skipped" {
			started = fmt.Sprint(created + 1000)
		}
		if e.phase == "terminal" {
			terminal = fmt.Sprint(created + 60000)
		}
		if e.public == "completed" {
			result = "x'" + hex.EncodeToString([]byte(fmt.Sprintf(`{"answer":%d,"tokens":350,"ok":true}`, 40+e.n))) + "'"
		}
		if e.public == "cancelled" {
			cancelR, cancelBy = "'operator_requested'", "'alice'"
		}
		if e.n == 1 {
			policy = `'{"priority":5,"retry_policy":{"max_retries":3,"backoff":{"type":"fixed","delay_ms":500}},"routing_requirements":{"required_capabilities":["gpu","linux"]}}'`
		}
		if e.n == 4 {
			deadline = fmt.Sprint(now + 3600000)
		}
		add(`INSERT INTO ff_exec_core (partition_key, execution_id, flow_id, lane_id, attempt_index, lifecycle_phase, ownership_state,
			eligibility_state, public_state, attempt_state, blocking_reason, cancellation_reason, cancelled_by, priority, created_at_ms,
			terminal_at_ms, deadline_at_ms, payload, result, policy, raw_fields, started_at_ms, lease_reclaim_count)
			VALUES (%d, %s, %s, '%s', %d, '%s', '%s', '%s', '%s', '%s', '%s', %s, %s, %d, %d, %s, %s, x'%s', %s, %s, '%s', %s, %d)`,
			part, xb(e.n), flow, e.lane, e.attemptIndex, e.phase, e.ownership, e.eligibility, e.public, e.attemptState, e.blocking,
			cancelR, cancelBy, e.priority, created, terminal, deadline, hex.EncodeToString([]byte(fmt.Sprintf(`{"input":%d}`, e.n))),
			result, policy, raw, started, map[bool]int{true: 1}[e.n == 5])
	}
	add(`INSERT INTO ff_execution_capabilities (execution_id, capability) VALUES (%s, 'gpu'), (%s, 'linux')`, xb(1), xb(1))

	// Attempts: (exec, index, worker, epoch, lease expiry, outcome, type).
	attempt := func(n, idx int, worker string, epoch int, lease string, outcome, typ string, startedAgo, endedAgo int64, extra string) {
		term := "NULL"
		if endedAgo >= 0 {
			term = fmt.Sprint(now - endedAgo)
		}
		out := "NULL"
		if outcome != "" {
			out = "'" + outcome + "'"
		}
		add(`INSERT INTO ff_attempt (partition_key, execution_id, attempt_index, worker_id, worker_instance_id, lease_epoch,
			lease_expires_at_ms, started_at_ms, terminal_at_ms, outcome, usage, raw_fields)
			VALUES (0, %s, %d, '%s', '%s-a', %d, %s, %d, %s, %s, NULL, '{"attempt_id":"a0000000-0000-4000-8000-%06d%06d","lease_id":"10000000-0000-4000-8000-%06d%06d","attempt_type":"%s","lane_id":"%s"%s}')`,
			xb(n), idx, worker, worker, epoch, lease, now-startedAgo, term, out, n, idx, n, idx, typ, seedLane(n), extra)
	}
	attempt(4, 0, "w-1", 1, fmt.Sprint(now+25000), "", "initial", 299000, -1, "")
	attempt(5, 0, "w-2", 1, "NULL", "failed", "initial", 599000, 500000, `,"failure_class":"transient","failure_reason":"timeout talking to model"`)
	attempt(5, 1, "w-2", 2, fmt.Sprint(now-2000), "", "retry", 400000, -1, "")
	attempt(6, 0, "w-3", 2, "NULL", "", "initial", 899000, -1, "")
	attempt(7, 0, "w-1", 1, "NULL", "success", "initial", 3599000, 3540000, "")
	attempt(8, 0, "w-3", 1, "NULL", "failed", "initial", 2999000, 2940000, `,"failure_class":"permanent","failure_reason":"tool returned 500"`)
	attempt(9, 0, "w-1", 2, "NULL", "cancelled", "initial", 2399000, 2340000, "")
	attempt(10, 0, "w-3", 2, "NULL", "", "initial", 1799000, -1, "")
	attempt(11, 0, "w-1", 1, "NULL", "success", "initial", 7199000, 7140000, "")
	attempt(12, 0, "w-1", 1, "NULL", "success", "initial", 7099000, 7040000, "")
	attempt(15, 0, "w-2", 1, "NULL", "expired", "initial", 86399000, 86340000, "")

	// Suspension and waitpoints.
	// Execution 6 waits (ffsqlite's records: docs/storage.md) and got one
	// signal that did not match; execution 10 was resumed by a signal; the
	// active execution 4 holds a pending waitpoint with a buffered signal.
	add(`INSERT INTO ff_suspension_current (partition_key, execution_id, suspension_id, suspended_at_ms, timeout_at_ms, reason_code,
		condition, satisfied_set, member_map, timeout_behavior) VALUES (0, %s, x'50000000000040008000000000000006', %d, %d, 'waiting_for_approval',
		'{"Single":{"waitpoint_key":"wpk:approve","matcher":{"ByName":"approved"}}}', '[]',
		'{"state":"open","attempt_index":0,"requested_by":"worker","waitpoints":[{"waitpoint_id":"70000000-0000-4000-8000-000000000006","waitpoint_key":"wpk:approve"}],"timeout_at_ms":%d,"satisfiers":[]}',
		'fail')`, xb(6), now-890000, now+3600000, now+3600000)
	add(`INSERT INTO ff_waitpoint_pending (partition_key, waitpoint_id, execution_id, token_kid, token, created_at_ms, expires_at_ms,
		condition, waitpoint_key, state, required_signal_names, activated_at_ms) VALUES (0, x'70000000000040008000000000000006', %[1]s, 'k1',
		'k1:7a1d4b2c9e8f60a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071829', %[2]d, %[3]d,
		'{"attempt_index":0,"suspension_id":"50000000-0000-4000-8000-000000000006","signal_count":1,"matched_signal_count":0,"last_signal_at_ms":%[4]d,"signals":[{"signal_id":"51000000-0000-4000-8000-000000000001","signal_name":"rejected","signal_category":"human_review","source_type":"human","source_identity":"user:bob","correlation_id":"","target_scope":"execution","created_at":%[4]d,"accepted_at":%[4]d,"effect":"no_op"}]}',
		'wpk:approve', 'active', '["approved"]', %[2]d)`, xb(6), now-890000, now+3600000, now-600000)
	add(`INSERT INTO ff_suspension_current (partition_key, execution_id, suspension_id, suspended_at_ms, timeout_at_ms, reason_code,
		condition, satisfied_set, member_map, timeout_behavior) VALUES (0, %s, x'50000000000040008000000000000010', %d, NULL, 'waiting_for_callback',
		'{"Single":{"waitpoint_key":"wpk:callback","matcher":"Wildcard"}}', '["leaf:"]',
		'{"state":"closed","attempt_index":0,"requested_by":"worker","waitpoints":[{"waitpoint_id":"70000000-0000-4000-8000-000000000010","waitpoint_key":"wpk:callback"}],"closed_at_ms":%d,"close_reason":"resumed","satisfied_at_ms":%[3]d,"satisfiers":[{"signal_id":"sig-1","signal_name":"callback","signal_category":"webhook","source_type":"service","source_identity":"user:alice","correlation_id":"req-7","target_scope":"execution","created_at":%[3]d,"accepted_at":%[3]d,"payload_hex":"7b7d","effect":"resume_condition_satisfied"}]}',
		'fail')`, xb(10), now-1700000, now-60000)
	add(`INSERT INTO ff_waitpoint_pending (partition_key, waitpoint_id, execution_id, token_kid, token, created_at_ms, expires_at_ms,
		condition, waitpoint_key, state, required_signal_names, activated_at_ms) VALUES (0, x'70000000000040008000000000000010', %s, 'k1',
		'k1:0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0', %d, NULL,
		'{"attempt_index":0,"suspension_id":"50000000-0000-4000-8000-000000000010","signal_count":1,"matched_signal_count":1,"last_signal_at_ms":%d,"closed_at_ms":%[3]d,"close_reason":"resumed","satisfied_at_ms":%[3]d,"signals":[{"signal_id":"sig-1","signal_name":"callback","signal_category":"webhook","source_type":"service","source_identity":"user:alice","correlation_id":"req-7","target_scope":"execution","created_at":%[3]d,"accepted_at":%[3]d,"payload_hex":"7b7d","effect":"resume_condition_satisfied"}]}',
		'wpk:callback', 'closed', '[]', %[2]d)`, xb(10), now-1700000, now-60000)
	add(`INSERT INTO ff_waitpoint_pending (partition_key, waitpoint_id, execution_id, token_kid, token, created_at_ms, expires_at_ms,
		condition, waitpoint_key, state, required_signal_names, activated_at_ms) VALUES (0, x'70000000000040008000000000000004', %s, 'k1',
		'k1:aa11bb22cc33dd44ee55ff6600778899aa11bb22cc33dd44ee55ff6600778899', %d, %d,
		'{"attempt_index":0,"signal_count":1,"matched_signal_count":0,"last_signal_at_ms":%d,"signals":[{"signal_id":"52000000-0000-4000-8000-000000000001","signal_name":"approve","signal_category":"human_review","source_type":"human","source_identity":"user:carol","correlation_id":"","target_scope":"execution","idempotency_key":"once","created_at":%[4]d,"accepted_at":%[4]d,"effect":"buffered_for_pending_waitpoint"}]}',
		'wpk:early', 'pending', '[]', NULL)`, xb(4), now-200000, now+400000, now-100000)

	// Flows.
	add(`INSERT INTO ff_flow_core (partition_key, flow_id, graph_revision, public_flow_state, created_at_ms, terminal_at_ms, raw_fields)
		VALUES (0, %s, 4, 'open', %d, NULL, '{"flow_kind":"dag","namespace":"default","node_count":4,"edge_count":4}')`, blob(SeedFlowDiamond), now-7300000)
	add(`INSERT INTO ff_flow_core (partition_key, flow_id, graph_revision, public_flow_state, created_at_ms, terminal_at_ms, raw_fields)
		VALUES (0, %s, 1, 'failed', %d, %d, '{"node_count":2}')`, blob(SeedFlowFailed), now-86500000, now-86000000)
	edge := func(flow string, id, up, down int, state, extra string) {
		add(`INSERT INTO ff_edge (partition_key, flow_id, edge_id, upstream_eid, downstream_eid, policy, policy_version)
			VALUES (0, %s, x'e00000000000400080000000000000%02x', %s, %s, '{"dependency_kind":"success_only","data_passing_ref":null,"edge_state":"%s"%s}', 0)`,
			blob(flow), id, xb(up), xb(down), state, extra)
	}
	edge(SeedFlowDiamond, 1, 11, 12, "satisfied", `,"upstream_outcome":"success"`)
	edge(SeedFlowDiamond, 2, 11, 13, "satisfied", `,"upstream_outcome":"success"`)
	edge(SeedFlowDiamond, 3, 12, 14, "satisfied", `,"upstream_outcome":"success"`)
	edge(SeedFlowDiamond, 4, 13, 14, "unsatisfied", `,"data_passing_ref":"summary"`)
	edge(SeedFlowFailed, 5, 15, 16, "impossible", `,"upstream_outcome":"expired"`)
	group := func(flow string, down int, policy string, ok, failed, unresolved int) {
		add(`INSERT INTO ff_edge_group (partition_key, flow_id, downstream_eid, policy, success_count, fail_count, running_count)
			VALUES (0, %s, %s, '%s', %d, %d, %d)`, blob(flow), xb(down), policy, ok, failed, unresolved)
	}
	group(SeedFlowDiamond, 12, `{"kind":"all_of"}`, 1, 0, 0)
	group(SeedFlowDiamond, 13, `{"kind":"all_of"}`, 1, 0, 0)
	group(SeedFlowDiamond, 14, `{"kind":"quorum","k":2,"on_satisfied":"let_run"}`, 1, 0, 1)
	group(SeedFlowFailed, 16, `{"kind":"all_of"}`, 0, 1, 0)

	// Outboxes.
	done := func(n int, outcome string, flow string, ago int64, dispatched bool) {
		f := "NULL"
		if flow != "" {
			f = blob(flow)
		}
		d := "NULL"
		if dispatched {
			d = fmt.Sprint(now - ago + 5)
		}
		add(`INSERT INTO ff_completion_event (partition_key, execution_id, flow_id, outcome, namespace, instance_tag, occurred_at_ms,
			committed_at_ms, dispatched_at_ms) VALUES (0, %s, %s, '%s', 'default', 'inst-1', %d, %d, %s)`, xb(n), f, outcome, now-ago, now-ago, d)
	}
	done(15, "expired", SeedFlowFailed, 86340000, true)
	done(11, "success", SeedFlowDiamond, 7140000, true)
	done(12, "success", SeedFlowDiamond, 7040000, true)
	done(7, "success", "", 3540000, true)
	done(8, "failed", "", 2940000, true)
	done(9, "cancelled", "", 2340000, true)
	done(10, "resumable", "", 60000, false)
	lease := func(n int, typ string, ago int64) {
		add(`INSERT INTO ff_lease_event (execution_id, lease_id, event_type, occurred_at_ms, partition_key, namespace, instance_tag)
			VALUES ('%s', '10000000-0000-4000-8000-%06d000000', '%s', %d, 0, 'default', 'inst-1')`, SeedExec(n), n, typ, now-ago)
	}
	lease(7, "acquired", 3599000)
	lease(7, "released", 3540000)
	lease(9, "acquired", 2399000)
	lease(9, "revoked", 2340000)
	lease(5, "acquired", 400000)
	lease(4, "acquired", 299000)
	lease(4, "renewed", 20000)
	add(`INSERT INTO ff_signal_event (execution_id, signal_id, waitpoint_id, source_identity, delivered_at_ms, partition_key, namespace, instance_tag)
		VALUES ('%s', 'sig-1', '70000000-0000-4000-8000-000000000010', 'user:alice', %d, 0, 'default', 'inst-1')`, SeedExec(10), now-60000)
	add(`INSERT INTO ff_operator_event (execution_id, event_type, details, occurred_at_ms, partition_key, namespace, instance_tag)
		VALUES ('%s', 'priority_changed', '{"from":0,"to":5}', %d, 0, 'default', 'inst-1')`, SeedExec(1), now-45000)
	add(`INSERT INTO ff_operator_event (execution_id, event_type, details, occurred_at_ms, partition_key, namespace, instance_tag)
		VALUES ('%s', 'flow_cancel_requested', '{"policy":"cancel_all"}', %d, 0, 'default', NULL)`, SeedExec(15), now-86100000)

	// Budgets.
	budget := func(id, policy string, scope, scopeID string, breaches, soft int, lastBreach, lastDim, next string) {
		add(`INSERT INTO ff_budget_policy (partition_key, budget_id, policy_json, created_at_ms, updated_at_ms, scope_type, scope_id,
			enforcement_mode, breach_count, soft_breach_count, last_breach_at_ms, last_breach_dim, next_reset_at_ms)
			VALUES (0, '%s', '%s', %d, %d, '%s', '%s', 'strict', %d, %d, %s, %s, %s)`,
			id, policy, now-86400000, now-60000, scope, scopeID, breaches, soft, lastBreach, lastDim, next)
	}
	budget("b-breached", `{"hard_limits":{"requests":10},"soft_limits":{},"reset_interval_ms":60000}`, "namespace", "default",
		2, 0, fmt.Sprint(now-30000), "'requests'", fmt.Sprint(now-1000))
	budget("b-idle", `{"hard_limits":{"tokens":0},"soft_limits":{},"reset_interval_ms":0}`, "", "", 0, 0, "NULL", "NULL", "NULL")
	budget("b-tokens", `{"hard_limits":{"tokens":1000,"cost_cents":500},"soft_limits":{"tokens":800},"reset_interval_ms":3600000}`,
		"flow", SeedFlowDiamond, 0, 1, "NULL", "NULL", fmt.Sprint(now+1800000))
	usage := func(id, dim string, v int64) {
		add(`INSERT INTO ff_budget_usage (partition_key, budget_id, dimensions_key, current_value, last_reset_at_ms, updated_at_ms)
			VALUES (0, '%s', '%s', %d, %d, %d)`, id, dim, v, now-1800000, now-60000)
	}
	usage("b-breached", "requests", 10)
	usage("b-tokens", "tokens", 850)
	usage("b-tokens", "cost_cents", 120)
	add(`INSERT INTO ff_budget_usage_by_exec (partition_key, budget_id, execution_id, dimensions_key, delta_total, updated_at_ms)
		VALUES (0, 'b-tokens', '%s', 'tokens', 500, %d), (0, 'b-tokens', '%s', 'tokens', 350, %d), (0, 'b-tokens', '%s', 'cost_cents', 120, %d)`,
		SeedExec(4), now-60000, SeedExec(7), now-3540000, SeedExec(4), now-60000)

	// Quotas.
	add(`INSERT INTO ff_quota_policy (partition_key, quota_policy_id, requests_per_window_seconds, max_requests_per_window,
		active_concurrency_cap, active_concurrency, created_at_ms, updated_at_ms) VALUES
		(0, 'q-api', 60, 3, 2, 1, %d, %d), (0, 'q-batch', 10, 0, 1, 1, %d, %d), (0, 'q-free', 60, 100, 0, 0, %d, %d)`,
		now-86400000, now-10000, now-86400000, now-5000, now-86400000, now-86400000)
	for i, ago := range []int64{10000, 20000, 30000, 120000} {
		add(`INSERT INTO ff_quota_window (partition_key, quota_policy_id, dimension, admitted_at_ms, execution_id) VALUES (0, 'q-api', '', %d, '%s')`,
			now-ago, SeedExec(1+i))
	}
	add(`INSERT INTO ff_quota_admitted (partition_key, quota_policy_id, execution_id, admitted_at_ms, expires_at_ms) VALUES
		(0, 'q-api', '%s', %d, %d), (0, 'q-api', '%s', %d, %d), (0, 'q-api', '%s', %d, %d)`,
		SeedExec(1), now-10000, now+50000, SeedExec(2), now-20000, now+40000, SeedExec(4), now-120000, now-60000)

	// Workers.
	add(`INSERT INTO ff_worker_registry (namespace, worker_instance_id, worker_id, lanes, capabilities_csv, last_heartbeat_ms,
		liveness_ttl_ms, registered_at_ms) VALUES
		('default', 'w-1-a', 'w-1', 'default,llm', 'gpu,linux', %d, 30000, %d),
		('default', 'w-2-a', 'w-2', 'llm', '', %d, 30000, %d),
		('other', 'w-3-a', 'w-3', 'tools', 'linux', %d, 10000, %d)`,
		now-5000, now-86400000, now-60000, now-86400000, now-1000, now-3600000)
	add(`INSERT INTO ff_worker_registry_event (namespace, worker_instance_id, event_kind, event_at_ms, reason) VALUES
		('default', 'w-1-a', 'registered', %d, NULL), ('default', 'w-1-a', 'heartbeat', %d, NULL)`, now-86400000, now-5000)

	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, q := range s {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("seed: %w\n%s", err, q)
		}
	}
	return tx.Commit()
}
