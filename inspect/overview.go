package inspect

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ffsqlite/ffsqlite/backend"
)

// PublicStates are the public execution states (spec §4.2), in display
// order.
var PublicStates = []string{"waiting", "delayed", "active", "suspended", "waiting_children", "rate_limited",
	"resumable", "completed", "failed", "cancelled", "expired", "skipped"}

// LifecyclePhases are the lifecycle phases (spec §4.2), in display order.
var LifecyclePhases = []string{"submitted", "runnable", "active", "suspended", "terminal"}

// Outboxes names the four event outboxes and their tables, in display
// order.
var Outboxes = []struct{ Name, Table string }{
	{"completion", "ff_completion_event"},
	{"lease", "ff_lease_event"},
	{"signal", "ff_signal_event"},
	{"operator", "ff_operator_event"},
}

// OverviewReport is `inspect` without a subcommand: the whole database at a
// glance.
type OverviewReport struct {
	File          string          `json:"file"`
	SizeBytes     int64           `json:"size_bytes"`
	WALSizeBytes  int64           `json:"wal_size_bytes"`
	SQLiteVersion string          `json:"sqlite_version"`
	JournalMode   string          `json:"journal_mode"`
	NowMS         int64           `json:"now_ms"`
	Schema        SchemaStatus    `json:"schema"`
	Executions    ExecutionCounts `json:"executions"`
	Leases        LeaseCounts     `json:"leases"`
	Budgets       BudgetCounts    `json:"budgets"`
	Workers       WorkerCounts    `json:"workers"`
	Outboxes      []OutboxHead    `json:"outboxes"`
	// MissingTables lists the engine tables the file lacks (an empty or
	// partly migrated database); their counts read 0.
	MissingTables []string `json:"missing_tables"`
}

// ExecutionCounts counts ff_exec_core rows.
type ExecutionCounts struct {
	Total int64 `json:"total"`
	// ByState has every public state as a key (0 when none), plus any
	// unexpected public_state value found in the file.
	ByState map[string]int64 `json:"by_state"`
	// ByLane has one entry per lane with executions or in ff_lane_registry,
	// sorted by lane.
	ByLane []LaneCount `json:"by_lane"`
	// DelayedDue counts delayed executions whose delay_until <= now: a
	// claim would take them even before the promoter runs.
	DelayedDue int64 `json:"delayed_due"`
}

// LaneCount is one lane's executions by lifecycle phase.
type LaneCount struct {
	Lane       string `json:"lane"`
	Registered bool   `json:"registered"`
	Total      int64  `json:"total"`
	// ByPhase has every lifecycle phase as a key.
	ByPhase map[string]int64 `json:"by_phase"`
}

// LeaseCounts counts attempts holding a lease (lease_expires_at_ms set).
type LeaseCounts struct {
	Active  int64 `json:"active"`
	Expired int64 `json:"expired"` // of Active, those with expiry <= now
}

// BudgetCounts summarises ff_budget_policy.
type BudgetCounts struct {
	Total    int64 `json:"total"`
	ResetDue int64 `json:"reset_due"` // next_reset_at_ms <= now
	InBreach int64 `json:"in_breach"` // a hard breach recorded since the last reset
}

// WorkerCounts summarises ff_worker_registry.
type WorkerCounts struct {
	Total   int64 `json:"total"`
	Alive   int64 `json:"alive"`   // last_heartbeat_ms + liveness_ttl_ms > now
	Expired int64 `json:"expired"` // the others: a TTL sweep would delete them
}

// OutboxHead is the newest event id of one outbox (null when empty or
// missing).
type OutboxHead struct {
	Outbox        string `json:"outbox"`
	Table         string `json:"table"`
	NewestEventID *int64 `json:"newest_event_id"`
}

// OverviewOptions tunes Overview.
type OverviewOptions struct {
	// NowMS is the clock; 0 means b.Now().
	NowMS int64
	// Trace, when set, receives every SQL statement Overview runs, in
	// order, ready to paste into the sqlite3 shell (arguments are inlined).
	Trace func(sql string)
}

// Overview reads the whole-database summary. Every query runs in one read
// transaction on one connection, so the counts are one consistent
// snapshot, and each is an aggregate that either scans a small covering or
// partial index or makes exactly one pass over ff_exec_core (see
// docs/inspect-json.md "Speed").
func Overview(ctx context.Context, b *backend.Backend, o OverviewOptions) (*OverviewReport, error) {
	now := o.NowMS
	if now == 0 {
		now = b.Now()
	}
	rep := &OverviewReport{File: b.Path(), SQLiteVersion: b.SQLiteVersion(), NowMS: now, Outboxes: []OutboxHead{}, MissingTables: []string{}}
	if !b.IsMemory() {
		if st, err := os.Stat(b.Path()); err == nil {
			rep.SizeBytes = st.Size()
		}
		if st, err := os.Stat(b.Path() + "-wal"); err == nil {
			rep.WALSizeBytes = st.Size()
		}
	}
	conn, err := b.ReaderDB().Conn(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	tx, err := conn.BeginTx(ctx, nil) // a deferred read transaction: one snapshot
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	q := tracer{q: tx, trace: o.Trace}
	if err := q.row(ctx, "PRAGMA journal_mode", &rep.JournalMode); err != nil {
		return nil, fmt.Errorf("read journal mode: %w", err)
	}
	cat, err := loadCatalog(ctx, q)
	if err != nil {
		return nil, err
	}
	for _, t := range []string{"ff_exec_core", "ff_attempt", "ff_lane_registry", "ff_budget_policy", "ff_worker_registry",
		"ff_completion_event", "ff_lease_event", "ff_signal_event", "ff_operator_event"} {
		if !cat.has(t) {
			rep.MissingTables = append(rep.MissingTables, t)
		}
	}
	if rep.Schema, err = schemaStatus(ctx, q); err != nil {
		return nil, err
	}
	if err := overviewExecutions(ctx, q, cat, now, &rep.Executions); err != nil {
		return nil, err
	}
	if cat.hasCol("ff_attempt", "lease_expires_at_ms") {
		err := q.row(ctx, fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE lease_expires_at_ms <= %d)
			FROM ff_attempt WHERE lease_expires_at_ms IS NOT NULL`, now), &rep.Leases.Active, &rep.Leases.Expired)
		if err != nil {
			return nil, fmt.Errorf("count leases: %w", err)
		}
	}
	if cat.has("ff_budget_policy") {
		due, breach := "0", "0"
		if cat.hasCol("ff_budget_policy", "next_reset_at_ms") {
			due = fmt.Sprintf("count(*) FILTER (WHERE next_reset_at_ms <= %d)", now)
			breach = "count(*) FILTER (WHERE last_breach_at_ms IS NOT NULL)"
		}
		if err := q.row(ctx, "SELECT count(*), "+due+", "+breach+" FROM ff_budget_policy",
			&rep.Budgets.Total, &rep.Budgets.ResetDue, &rep.Budgets.InBreach); err != nil {
			return nil, fmt.Errorf("count budgets: %w", err)
		}
	}
	if cat.has("ff_worker_registry") {
		if err := q.row(ctx, fmt.Sprintf(`SELECT count(*), count(*) FILTER (WHERE last_heartbeat_ms + liveness_ttl_ms > %d)
			FROM ff_worker_registry`, now), &rep.Workers.Total, &rep.Workers.Alive); err != nil {
			return nil, fmt.Errorf("count workers: %w", err)
		}
		rep.Workers.Expired = rep.Workers.Total - rep.Workers.Alive
	}
	for _, ob := range Outboxes {
		h := OutboxHead{Outbox: ob.Name, Table: ob.Table}
		if cat.has(ob.Table) {
			var id sql.NullInt64
			if err := q.row(ctx, "SELECT max(event_id) FROM "+ob.Table, &id); err != nil {
				return nil, fmt.Errorf("read %s: %w", ob.Table, err)
			}
			if id.Valid {
				h.NewestEventID = &id.Int64
			}
		}
		rep.Outboxes = append(rep.Outboxes, h)
	}
	return rep, tx.Commit()
}

// overviewExecutions fills the execution counts with two statements:
//
//  1. lane × lifecycle phase from the covering index
//     ff_exec_core_lane_phase_idx (no table rows are read); its sum is
//     also the total;
//  2. one pass over the table for the public states, leaving out the
//     rows of the state most rows are expected to be in (the biggest
//     phase's usual state, e.g. completed) so they cost one comparison
//     each and never reach the GROUP BY sorter; that state's count is the
//     total minus the rest. delay_until is parsed only for delayed rows,
//     inside a co-routine subquery so raw_fields never enters the sorter.
func overviewExecutions(ctx context.Context, q tracer, cat *catalog, now int64, out *ExecutionCounts) error {
	out.ByState = map[string]int64{}
	for _, s := range PublicStates {
		out.ByState[s] = 0
	}
	out.ByLane = []LaneCount{}
	lanes := map[string]*LaneCount{}
	lane := func(name string) *LaneCount {
		l := lanes[name]
		if l == nil {
			l = &LaneCount{Lane: name, ByPhase: map[string]int64{}}
			for _, p := range LifecyclePhases {
				l.ByPhase[p] = 0
			}
			lanes[name] = l
		}
		return l
	}
	if cat.has("ff_lane_registry") {
		var names []string
		if err := q.strings(ctx, "SELECT lane_id FROM ff_lane_registry", &names); err != nil {
			return fmt.Errorf("read lanes: %w", err)
		}
		for _, n := range names {
			lane(n).Registered = true
		}
	}
	if cat.has("ff_exec_core") {
		rows, err := q.query(ctx, `SELECT lane_id, lifecycle_phase, count(*) FROM ff_exec_core
			GROUP BY partition_key, lane_id, lifecycle_phase`)
		if err != nil {
			return fmt.Errorf("count executions by lane: %w", err)
		}
		phases := map[string]int64{}
		for rows.Next() {
			var l, p string
			var n int64
			if err := rows.Scan(&l, &p, &n); err != nil {
				rows.Close()
				return err
			}
			lc := lane(l)
			lc.ByPhase[p] += n
			lc.Total += n
			phases[p] += n
			out.Total += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		skip := dominantState(phases)
		due := "NULL"
		if cat.hasCol("ff_exec_core", "raw_fields") {
			due = fmt.Sprintf("CASE WHEN public_state = 'delayed' THEN json_extract(raw_fields, '$.delay_until') <= %d END", now)
		}
		rows, err = q.query(ctx, fmt.Sprintf(`SELECT s, count(*), coalesce(sum(due), 0) FROM (
			SELECT public_state AS s, %s AS due FROM ff_exec_core WHERE public_state <> '%s' LIMIT -1 OFFSET 0
		) GROUP BY s`, due, skip))
		if err != nil {
			return fmt.Errorf("count executions by state: %w", err)
		}
		rest := int64(0)
		for rows.Next() {
			var s string
			var n, d int64
			if err := rows.Scan(&s, &n, &d); err != nil {
				rows.Close()
				return err
			}
			out.ByState[s] += n
			out.DelayedDue += d
			rest += n
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		out.ByState[skip] = out.Total - rest
	}
	for _, l := range lanes {
		out.ByLane = append(out.ByLane, *l)
	}
	slices.SortFunc(out.ByLane, func(a, b LaneCount) int { return strings.Compare(a.Lane, b.Lane) })
	return nil
}

// dominantState guesses the public state holding most rows from the phase
// counts: the biggest phase's usual state.
func dominantState(phases map[string]int64) string {
	best, bestN := "terminal", int64(-1)
	for _, p := range LifecyclePhases {
		if phases[p] > bestN {
			best, bestN = p, phases[p]
		}
	}
	switch best {
	case "runnable", "submitted":
		return "waiting"
	case "active":
		return "active"
	case "suspended":
		return "suspended"
	}
	return "completed"
}

// tracer runs statements on q and reports each to trace.
type tracer struct {
	q     queryer
	trace func(string)
}

func (t tracer) emit(query string, args []any) {
	if t.trace == nil {
		return
	}
	for _, a := range args { // overview statements take none; keep the hook honest anyway
		query = strings.Replace(query, "?", literal(a), 1)
	}
	t.trace(strings.Join(strings.Fields(query), " ") + ";")
}

func (t tracer) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	t.emit(query, args)
	return t.q.QueryContext(ctx, query, args...)
}

func (t tracer) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	t.emit(query, args)
	return t.q.QueryRowContext(ctx, query, args...)
}

func (t tracer) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return t.QueryContext(ctx, query, args...)
}

func (t tracer) row(ctx context.Context, query string, dest ...any) error {
	return t.QueryRowContext(ctx, query).Scan(dest...)
}

func (t tracer) strings(ctx context.Context, query string, out *[]string) error {
	rows, err := t.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return err
		}
		*out = append(*out, s)
	}
	return rows.Err()
}

func literal(a any) string {
	switch v := a.(type) {
	case int64:
		return strconv.FormatInt(v, 10)
	case int:
		return strconv.Itoa(v)
	case string:
		return "'" + strings.ReplaceAll(v, "'", "''") + "'"
	}
	return fmt.Sprint(a)
}
