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
