package backend

// FloorStmts are the fewest statements that make the rows a claim and a
// completion must write in the upstream schema, prepared on the writer
// like the engine's own (BenchmarkDrainFloor).
var FloorStmts = struct{ Pick, Attempt, Claim, LeaseEvent, End, Terminal, Completion string }{
	Pick: hotStmt(`SELECT rowid, partition_key, execution_id FROM ff_exec_core
WHERE partition_key = ?1 AND lane_id = 'default' AND lifecycle_phase = 'runnable' LIMIT 1`),
	Attempt: hotStmt(`INSERT INTO ff_attempt (partition_key, execution_id, attempt_index, lease_epoch, worker_id,
  worker_instance_id, lease_expires_at_ms, started_at_ms, raw_fields)
VALUES (?1, ?2, 0, 1, 'w', 'wi', ?3, ?4, json_object('attempt_id', ?5, 'lease_id', ?6, 'attempt_type', 'initial', 'lane_id', 'default'))`),
	Claim: hotStmt(`UPDATE ff_exec_core SET lifecycle_phase = 'active', ownership_state = 'leased',
  eligibility_state = 'not_applicable', attempt_state = 'running_attempt', public_state = 'active', started_at_ms = ?2
WHERE rowid = ?1`),
	LeaseEvent: hotStmt(`INSERT INTO ff_lease_event (execution_id, lease_id, event_type, occurred_at_ms, partition_key, namespace)
VALUES (?1, ?2, ?3, ?4, ?5, 'ns')`),
	End: hotStmt(`UPDATE ff_attempt SET outcome = 'success', terminal_at_ms = ?3, lease_expires_at_ms = NULL
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = 0`),
	Terminal: hotStmt(`UPDATE ff_exec_core SET lifecycle_phase = 'terminal', ownership_state = 'unowned',
  eligibility_state = 'not_applicable', attempt_state = 'attempt_terminal', public_state = 'completed',
  terminal_at_ms = ?2, result = ?3 WHERE rowid = ?1`),
	Completion: hotStmt(`INSERT INTO ff_completion_event (partition_key, execution_id, outcome, namespace, occurred_at_ms)
VALUES (?1, ?2, 'success', 'ns', ?3)`),
}

// WaitFloorStmts are, like FloorStmts, the fewest statements that write
// the rows a suspend, a signal that resumes and a resumed claim must
// write in the upstream schema (BenchmarkSuspendCycleFloor).
var WaitFloorStmts = struct {
	Waitpoint, Suspension, PauseAttempt, SuspendExec      string
	SignalWaitpoint, SatisfySuspension, ResumeExec        string
	SignalEvent, ResumeAttempt, PickResumed, ClaimResumed string
}{
	Waitpoint: hotStmt(`INSERT INTO ff_waitpoint_pending (partition_key, waitpoint_id, execution_id, token_kid, token,
  created_at_ms, condition, waitpoint_key, state, required_signal_names, activated_at_ms)
VALUES (?1, ?2, ?3, 'k1', ?4, ?5, ?6, ?7, 'active', '["approve"]', ?5)`),
	Suspension: hotStmt(`INSERT INTO ff_suspension_current (partition_key, execution_id, suspension_id, suspended_at_ms,
  reason_code, condition, satisfied_set, member_map, timeout_behavior)
VALUES (?1, ?2, ?3, ?4, 'waiting_for_approval', ?5, '{}', ?6, 'fail')
ON CONFLICT (partition_key, execution_id) DO UPDATE SET suspension_id = excluded.suspension_id,
  suspended_at_ms = excluded.suspended_at_ms, condition = excluded.condition,
  satisfied_set = excluded.satisfied_set, member_map = excluded.member_map`),
	PauseAttempt: hotStmt(`UPDATE ff_attempt SET lease_expires_at_ms = NULL, raw_fields = json_set(raw_fields, '$.paused', 'suspend')
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = 0`),
	SuspendExec: hotStmt(`UPDATE ff_exec_core SET lifecycle_phase = 'suspended', ownership_state = 'unowned',
  blocking_reason = 'waiting_for_approval', attempt_state = 'attempt_interrupted', public_state = 'suspended'
WHERE rowid = ?1`),
	SignalWaitpoint: hotStmt(`UPDATE ff_waitpoint_pending SET state = 'closed', condition = ?3
WHERE partition_key = ?1 AND waitpoint_id = ?2`),
	SatisfySuspension: hotStmt(`UPDATE ff_suspension_current SET satisfied_set = ?3, member_map = ?4
WHERE partition_key = ?1 AND execution_id = ?2`),
	ResumeExec: hotStmt(`UPDATE ff_exec_core SET lifecycle_phase = 'runnable', eligibility_state = 'eligible_now',
  blocking_reason = 'waiting_for_worker', public_state = 'waiting' WHERE rowid = ?1`),
	SignalEvent: hotStmt(`INSERT INTO ff_signal_event (execution_id, signal_id, waitpoint_id, source_identity, delivered_at_ms,
  partition_key, namespace) VALUES (?1, ?2, ?3, 'alice', ?4, ?5, 'ns')`),
	PickResumed: hotStmt(`SELECT rowid FROM ff_exec_core
WHERE partition_key = ?1 AND lane_id = 'default' AND lifecycle_phase = 'runnable' LIMIT 1`),
	ResumeAttempt: hotStmt(`UPDATE ff_attempt SET lease_epoch = lease_epoch + 1, lease_expires_at_ms = ?3,
  raw_fields = json_set(json_remove(raw_fields, '$.paused'), '$.lease_id', ?4)
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = 0`),
	ClaimResumed: hotStmt(`UPDATE ff_exec_core SET lifecycle_phase = 'active', ownership_state = 'leased',
  eligibility_state = 'not_applicable', attempt_state = 'running_attempt', public_state = 'active' WHERE rowid = ?1`),
}
