package backend

// Partition enumeration: ffsqlite never assumes which partition keys
// exist (docs/storage.md); a query that must visit every partition
// enumerates the keys present with a recursive CTE, one index seek per key,
// so it still uses the indexes that lead with partition_key.

// partitionCTE returns the recursive CTE name(p) that yields every distinct
// partition_key of table among the rows matching cond ("" for every row),
// then a final NULL (join on p, or filter p IS NOT NULL). Each step is one
// min() seek on an index of table that leads with partition_key and whose
// rows cond selects (a partial index's own condition, for instance).
func partitionCTE(name, table, cond string) string {
	first, next := "", ""
	if cond != "" {
		first, next = " WHERE "+cond, cond+" AND "
	}
	return name + `(p) AS (
  SELECT (SELECT min(partition_key) FROM ` + table + first + `)
  UNION ALL
  SELECT (SELECT min(partition_key) FROM ` + table + `
          WHERE ` + next + `partition_key > ` + name + `.p)
  FROM ` + name + ` WHERE ` + name + `.p IS NOT NULL)`
}

var (
	// partsCTE enumerates every partition of ff_exec_core, as parts(p).
	partsCTE = partitionCTE("parts", "ff_exec_core", "")

	// attemptPartsCTE enumerates the partitions holding a live lease, as
	// ap(p), on ff_attempt_lease_expiry_idx (partition_key,
	// lease_expires_at_ms) WHERE lease_expires_at_ms IS NOT NULL.
	attemptPartsCTE = partitionCTE("ap", "ff_attempt", "lease_expires_at_ms IS NOT NULL")

	// lanesCTE enumerates every (partition, lane) pair of ff_exec_core, as
	// lanes(p, l) after parts(p): one seek per pair on
	// ff_exec_core_lane_phase_idx (partition_key, lane_id,
	// lifecycle_phase), so a query can then seek one lifecycle phase of
	// each lane instead of scanning the table.
	lanesCTE = partsCTE + `,
lanes(p, l) AS (
  SELECT parts.p, (SELECT min(lane_id) FROM ff_exec_core WHERE partition_key = parts.p)
  FROM parts WHERE parts.p IS NOT NULL
  UNION ALL
  SELECT lanes.p, (SELECT min(lane_id) FROM ff_exec_core WHERE partition_key = lanes.p AND lane_id > lanes.l)
  FROM lanes WHERE lanes.l IS NOT NULL)`

	// deadlinePartsCTE enumerates the partitions holding a live deadline,
	// as dp(p), on ff_exec_core_deadline_idx (partition_key,
	// deadline_at_ms) WHERE deadline_at_ms IS NOT NULL.
	deadlinePartsCTE = partitionCTE("dp", "ff_exec_core", "deadline_at_ms IS NOT NULL")

	// budgetPartsCTE enumerates the partitions of budgets with a reset
	// schedule, as bp(p), on ff_budget_policy_reset_due_idx.
	budgetPartsCTE = partitionCTE("bp", "ff_budget_policy", "next_reset_at_ms IS NOT NULL")
)
