package backend

import (
	"context"
	"database/sql"
	"errors"
)

// The ready index: the claim's candidates in claim order, kept in the
// writer connection's TEMP schema, so that a claim costs the same with
// ten or a hundred thousand executions waiting in its lane, without
// changing the file's schema.
//
// The file has one lane index, ff_exec_core_lane_phase_idx (partition_key,
// lane_id, lifecycle_phase), and schema parity with upstream rules out
// another. Choosing the highest priority, then the oldest, from it reads
// every runnable row of the lane and sorts them (qClaimPickSchema). The
// ready index holds one row per claimable-or-delayed execution (runnable,
// and eligible now or delayed with a delay_until), ordered exactly like the
// claim: lane, priority descending, created_at_ms, rowid. A claim walks it
// in that order and stops at the first candidate whose real row still
// qualifies and whose required capabilities the worker has, so
// capabilities are checked only for candidates in claim order.
//
// What keeps it right:
//   - TEMP triggers on main.ff_exec_core (insert, update, delete)
//     keep it in step with every write on the writer connection, keyed on
//     the row's own columns (lifecycle_phase, eligibility_state,
//     raw_fields.delay_until, lane_id, priority, created_at_ms, rowid), not
//     on which operation wrote them, so a state the engine adds later is
//     indexed or not by the same rule as the claim query.
//   - TEMP tables are part of the connection's transactions: a savepoint
//     or transaction that rolls back takes its index changes with it.
//   - Writes by any other connection or process (a second serve, scan,
//     upstream's backend, a migration on the writer pool's other
//     connection) are invisible to TEMP triggers. PRAGMA data_version
//     changes exactly when another connection has committed; the claim
//     reads it inside its BEGIN IMMEDIATE transaction (so nobody commits
//     until it ends) and rebuilds the index from ff_exec_core when it
//     differs from the version the index was built at. A change of the
//     main schema (PRAGMA schema_version; a DROP TABLE on this connection
//     drops the triggers with the table) rebuilds and re-creates the
//     triggers too. Both versions are kept in Go (readyStamp), stored
//     only after the rebuild that read them has committed, so a rebuild
//     that rolls back leaves no stamp behind.
//   - The claim re-checks the real row (lane, phase, eligibility, due
//     delay) before it takes a candidate.
//
// The TEMP tables are made by the writer's per-connection set-up
// (writer.Config.Setup, readySetup below), on the held connection of a
// file database and on the one connection a memory database lends the
// writer; the triggers are (re)made by the first claim's rebuild.

// readySetup creates the ready index's TEMP tables on a writer
// connection. It is the writer's Config.Setup: idempotent, and it runs
// outside any transaction. A connection it sets up starts a new ready
// epoch, so no stamp of an index built on another connection counts on
// this one.
func (in *inner) readySetup(ctx context.Context, conn *sql.Conn) error {
	for _, q := range []string{
		// due_at is NULL for an execution eligible now, else its
		// raw_fields.delay_until as stored (no type affinity, so it
		// compares with the clock exactly as json_extract's value does).
		`CREATE TEMP TABLE IF NOT EXISTS ffsqlite_ready (
  exec_rowid    INTEGER PRIMARY KEY,
  lane_id       TEXT    NOT NULL,
  priority      INTEGER NOT NULL,
  created_at_ms INTEGER NOT NULL,
  due_at)`,
		`CREATE INDEX IF NOT EXISTS temp.ffsqlite_ready_now
  ON ffsqlite_ready (lane_id, priority DESC, created_at_ms, exec_rowid) WHERE due_at IS NULL`,
		`CREATE INDEX IF NOT EXISTS temp.ffsqlite_ready_due
  ON ffsqlite_ready (lane_id, due_at) WHERE due_at IS NOT NULL`,
		// The data and schema versions of the last rebuild on this
		// connection, written by the rebuild itself: transactional like
		// the index, so a later request of the same group transaction
		// sees a rebuild that has not committed yet (and not one whose
		// savepoint rolled back).
		`CREATE TEMP TABLE IF NOT EXISTS ffsqlite_ready_stamp (data INTEGER NOT NULL, schema INTEGER NOT NULL)`,
	} {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	in.readyEpoch.Add(1)
	return nil
}

// readyStamp is what a committed rebuild of the ready index was built
// at: the writer connection's ready epoch (readySetup) and the data and
// schema versions read inside the rebuild's transaction.
type readyStamp struct{ epoch, data, schema int64 }

// readyDelay is row x's raw_fields.delay_until, NULL when raw_fields is
// not JSON (where the claim query would stop with an error, the index
// leaves the row out).
func readyDelay(x string) string {
	return `CASE WHEN json_valid(` + x + `.raw_fields, 6) THEN json_extract(` + x + `.raw_fields, '$.delay_until') END`
}

// readyCond selects the rows the index holds: runnable, and eligible now
// or delayed with a delay_until (due or not).
func readyCond(x string) string {
	return x + `.lifecycle_phase = 'runnable' AND (` + x + `.eligibility_state = 'eligible_now' OR (` +
		x + `.eligibility_state = 'not_eligible_until_time' AND ` + readyDelay(x) + ` IS NOT NULL))`
}

// readyValues is the index row of row x (which readyCond selects).
func readyValues(x string) string {
	return x + `.rowid, ` + x + `.lane_id, ` + x + `.priority, ` + x + `.created_at_ms, CASE WHEN ` +
		x + `.eligibility_state = 'eligible_now' THEN NULL ELSE ` + readyDelay(x) + ` END`
}

const readyCols = `(exec_rowid, lane_id, priority, created_at_ms, due_at)`

var (
	// The connection's data and schema versions, each one cookie read
	// (cheaper than the pragma table-valued functions).
	qDataVersion   = hotStmt(`PRAGMA data_version`)
	qSchemaVersion = hotStmt(`PRAGMA schema_version`)

	// The triggers, dropped and made again when the schema changed. An
	// update enters a row that readyCond selects (REPLACE: its old entry,
	// if any, has the same rowid) and takes out the old entry of a row
	// that was runnable and no longer is, or moved rowid; the two never
	// both act on one rowid, so their order does not matter. An update of
	// a row runnable neither before nor after (complete, fail, revoke, …)
	// runs no trigger at all.
	readyTriggers = []string{
		`DROP TRIGGER IF EXISTS temp.ffsqlite_ready_ins`,
		`DROP TRIGGER IF EXISTS temp.ffsqlite_ready_upd`,
		`DROP TRIGGER IF EXISTS temp.ffsqlite_ready_out`,
		`DROP TRIGGER IF EXISTS temp.ffsqlite_ready_del`,
		`CREATE TEMP TRIGGER ffsqlite_ready_ins AFTER INSERT ON main.ff_exec_core WHEN ` + readyCond("NEW") + `
BEGIN
  INSERT OR REPLACE INTO ffsqlite_ready ` + readyCols + ` VALUES (` + readyValues("NEW") + `);
END`,
		`CREATE TEMP TRIGGER ffsqlite_ready_upd AFTER UPDATE ON main.ff_exec_core WHEN ` + readyCond("NEW") + `
BEGIN
  INSERT OR REPLACE INTO ffsqlite_ready ` + readyCols + ` VALUES (` + readyValues("NEW") + `);
END`,
		`CREATE TEMP TRIGGER ffsqlite_ready_out AFTER UPDATE ON main.ff_exec_core
WHEN OLD.lifecycle_phase = 'runnable' AND (OLD.rowid <> NEW.rowid OR NOT (` + readyCond("NEW") + `))
BEGIN
  DELETE FROM ffsqlite_ready WHERE exec_rowid = OLD.rowid;
END`,
		`CREATE TEMP TRIGGER ffsqlite_ready_del AFTER DELETE ON main.ff_exec_core
BEGIN
  DELETE FROM ffsqlite_ready WHERE exec_rowid = OLD.rowid;
END`,
	}

	// qReadyStampFresh is 1 when this connection's last rebuild that was
	// not rolled back was made at data version ?1 and schema version ?2.
	qReadyStampFresh = hotStmt(`SELECT count(*) FROM temp.ffsqlite_ready_stamp WHERE data = ?1 AND schema = ?2`)
	qReadyStampSet   = []string{`DELETE FROM temp.ffsqlite_ready_stamp`,
		`INSERT INTO temp.ffsqlite_ready_stamp (data, schema) VALUES (?1, ?2)`}

	qReadyClear   = `DELETE FROM ffsqlite_ready`
	qReadyRebuild = `INSERT INTO ffsqlite_ready ` + readyCols + `
SELECT ` + readyValues("e") + ` FROM main.ff_exec_core e WHERE ` + readyCond("e")

	// qReadyPick is the claim's choice through the index: the first
	// candidate eligible now in claim order, and the best of the due
	// delayed ones (which the delayed promoter soon makes eligible now,
	// so they are few), each re-checked against its real row (the claim
	// query's own conditions) and the worker's capabilities; the better of
	// the two wins (pickReady compares them on priority, created_at_ms
	// and rowid, the claim order, so the statement needs no sort of its
	// own on top of the branches'). ?1 lane, ?2 now, ?3 the worker's
	// capabilities as a JSON array. The fourth column tells whether the
	// execution has a policy at all: without one it has no quota
	// attached, and the claim skips the quota lookup
	// (quota_admission.go).
	qReadyPick = hotStmt(`SELECT * FROM (
    SELECT e.partition_key AS part, e.execution_id AS key, e.attempt_state AS state,
           e.policy IS NOT NULL AS pol, r.priority AS pr, r.created_at_ms AS ca, r.exec_rowid AS rid
    FROM ffsqlite_ready r INDEXED BY ffsqlite_ready_now CROSS JOIN main.ff_exec_core e ON e.rowid = r.exec_rowid
    WHERE r.lane_id = ?1 AND r.due_at IS NULL AND ` + claimableRow + `
    ORDER BY r.priority DESC, r.created_at_ms, r.exec_rowid LIMIT 1)
UNION ALL
SELECT * FROM (
    SELECT e.partition_key, e.execution_id, e.attempt_state, e.policy IS NOT NULL, r.priority, r.created_at_ms,
           r.exec_rowid
    FROM ffsqlite_ready r INDEXED BY ffsqlite_ready_due CROSS JOIN main.ff_exec_core e ON e.rowid = r.exec_rowid
    WHERE r.lane_id = ?1 AND r.due_at <= ?2 AND ` + claimableRow + `
    ORDER BY r.priority DESC, r.created_at_ms, r.exec_rowid LIMIT 1)`)
)

// refreshReady brings the ready index up to date inside the claim's
// write transaction: nothing when the last committed rebuild was made on
// this connection at the current data and schema versions (every write
// since went through its triggers), a rebuild from ff_exec_core otherwise
// (another connection committed, the schema changed, or the index was
// never built on this connection), with the triggers made again unless
// the index was built on this connection at this schema version.
//
// The stamp a rebuild leaves is stored only once its transaction has
// committed (an AfterCommit hook), so a rebuild that rolls back (a failed
// savepoint, a lost group transaction) leaves the old stamp, or none, and
// the next claim rebuilds again. A hook that lands late only costs a
// rebuild: data_version never returns to an older value and a new
// connection starts a new epoch, so a stale stamp never matches.
func (w *wtx) refreshReady() error {
	in := w.b.in
	epoch := in.readyEpoch.Load()
	var data, schema int64
	if err := w.queryRow(qDataVersion).Scan(&data); err != nil {
		return err
	}
	if err := w.queryRow(qSchemaVersion).Scan(&schema); err != nil {
		return err
	}
	st := in.readyStamp.Load()
	if st != nil && *st == (readyStamp{epoch, data, schema}) {
		return nil
	}
	// An earlier request of this group transaction may have rebuilt at
	// these versions already: its stamp is stored only after the commit,
	// but its TEMP row is visible now (and gone if it rolled back).
	var fresh int64
	if err := w.queryRow(qReadyStampFresh, data, schema).Scan(&fresh); err != nil {
		return err
	}
	if fresh > 0 {
		return nil
	}
	if st == nil || st.epoch != epoch || st.schema != schema {
		for _, q := range readyTriggers {
			if _, err := w.exec(q); err != nil {
				return err
			}
		}
	}
	for _, q := range []string{qReadyClear, qReadyRebuild} {
		if _, err := w.exec(q); err != nil {
			return err
		}
	}
	if _, err := w.exec(qReadyStampSet[0]); err != nil {
		return err
	}
	if _, err := w.exec(qReadyStampSet[1], data, schema); err != nil {
		return err
	}
	in.readyRebuilds.Add(1)
	stamp := &readyStamp{epoch, data, schema}
	w.AfterCommit(func() { in.readyStamp.Store(stamp) })
	return nil
}

// claimCandidate is the execution a claim's pick chose: its primary key,
// its pending attempt state and whether it may have a quota attached
// (false only when it has no policy, so nothing to admit).
type claimCandidate struct {
	part         int64
	key          []byte
	attemptState string
	mayQuota     bool
}

// pickReady returns the execution a claim of lane by a worker with the
// capabilities capsJSON takes at now, through the ready index (which
// refreshReady brought up to date in this transaction); found is false
// when there is none. Of qReadyPick's rows (at most one per branch) it
// takes the first in claim order: highest priority, then oldest, then
// lowest rowid.
func (w *wtx) pickReady(lane string, now int64, capsJSON string) (c claimCandidate, found bool, err error) {
	rows, err := w.QueryContext(w.ctx, qReadyPick, lane, now, capsJSON)
	if err != nil {
		return claimCandidate{}, false, err
	}
	defer rows.Close()
	// priority and created_at_ms are the columns as stored: integers as
	// ffsqlite writes them, anything another writer stored otherwise
	// (the columns have no STRICT type), compared as SQLite orders them.
	var bestPr, bestCa any
	var bestRid int64
	for rows.Next() {
		var r claimCandidate
		var pr, ca any
		var rid int64
		if err := rows.Scan(&r.part, &r.key, &r.attemptState, &r.mayQuota, &pr, &ca, &rid); err != nil {
			return claimCandidate{}, false, err
		}
		better := !found
		if !better {
			switch byPr := sqliteCompare(pr, bestPr); {
			case byPr != 0:
				better = byPr > 0 // priority descending
			default:
				byCa := sqliteCompare(ca, bestCa)
				better = byCa < 0 || (byCa == 0 && rid < bestRid)
			}
		}
		if better {
			c, bestPr, bestCa, bestRid, found = r, pr, ca, rid, true
		}
	}
	if err := rows.Err(); err != nil {
		return claimCandidate{}, false, err
	}
	return c, found, nil
}

// pickSchema is pickReady through the schema-only query (qClaimPickSchema):
// the claims of a backend whose index tests turned off, their baseline.
// It does not read the policy, so every candidate may have a quota.
func (w *wtx) pickSchema(lane string, now int64, capsJSON string) (c claimCandidate, found bool, err error) {
	err = w.queryRow(qClaimPickSchema, lane, now, capsJSON).Scan(&c.part, &c.key, &c.attemptState)
	if errors.Is(err, sql.ErrNoRows) {
		return claimCandidate{}, false, nil
	}
	if err != nil {
		return claimCandidate{}, false, err
	}
	c.mayQuota = true
	return c, true, nil
}
