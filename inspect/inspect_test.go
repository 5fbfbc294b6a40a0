package inspect_test

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ffsqlite/ffsqlite/inspect"
	"github.com/ffsqlite/ffsqlite/internal/inspecttest"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// seeded returns the path of a freshly seeded database with no open
// handle left on it.
func seeded(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "seed.db")
	b := testdb.OpenPath(t, path)
	if err := inspecttest.Seed(context.Background(), b.WriterDB()); err != nil {
		t.Fatal(err)
	}
	b.Close(context.Background())
	return path
}

func count(t *testing.T, db *sql.DB, q string, args ...any) int64 {
	t.Helper()
	var n int64
	if err := db.QueryRow(q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// checkOverview compares Overview with naive full-scan queries.
func checkOverview(t *testing.T, path string, now int64) {
	t.Helper()
	ctx := context.Background()
	b := openRO(t, path)
	defer b.Close(ctx)
	var stmts []string
	rep, err := inspect.Overview(ctx, b, inspect.OverviewOptions{NowMS: now, Trace: func(s string) { stmts = append(stmts, s) }})
	if err != nil {
		t.Fatal(err)
	}
	db := b.ReaderDB()
	want := map[string]int64{}
	for _, s := range inspect.PublicStates {
		want[s] = 0
	}
	rows, err := db.Query("SELECT public_state, count(*) FROM ff_exec_core GROUP BY public_state")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s string
		var n int64
		rows.Scan(&s, &n)
		want[s] = n
	}
	rows.Close()
	if !maps.Equal(rep.Executions.ByState, want) {
		t.Errorf("by state %v, want %v", rep.Executions.ByState, want)
	}
	if total := count(t, db, "SELECT count(*) FROM ff_exec_core"); rep.Executions.Total != total {
		t.Errorf("total %d, want %d", rep.Executions.Total, total)
	}
	for _, l := range rep.Executions.ByLane {
		for p, n := range l.ByPhase {
			if w := count(t, db, "SELECT count(*) FROM ff_exec_core WHERE lane_id = ? AND lifecycle_phase = ?", l.Lane, p); n != w {
				t.Errorf("lane %s phase %s: %d, want %d", l.Lane, p, n, w)
			}
		}
	}
	due := count(t, db, "SELECT count(*) FROM ff_exec_core WHERE public_state = 'delayed' AND json_extract(raw_fields, '$.delay_until') <= ?", now)
	active := count(t, db, "SELECT count(*) FROM ff_attempt WHERE lease_expires_at_ms IS NOT NULL")
	expired := count(t, db, "SELECT count(*) FROM ff_attempt WHERE lease_expires_at_ms <= ?", now)
	alive := count(t, db, "SELECT count(*) FROM ff_worker_registry WHERE last_heartbeat_ms + liveness_ttl_ms > ?", now)
	resetDue := count(t, db, "SELECT count(*) FROM ff_budget_policy WHERE next_reset_at_ms <= ?", now)
	if rep.Executions.DelayedDue != due || rep.Leases.Active != active || rep.Leases.Expired != expired ||
		rep.Workers.Alive != alive || rep.Budgets.ResetDue != resetDue {
		t.Errorf("due %d/%d leases %d/%d expired %d/%d alive %d/%d reset due %d/%d", rep.Executions.DelayedDue, due,
			rep.Leases.Active, active, rep.Leases.Expired, expired, rep.Workers.Alive, alive, rep.Budgets.ResetDue, resetDue)
	}
	newest := count(t, db, "SELECT coalesce(max(event_id), 0) FROM ff_completion_event")
	if h := rep.Outboxes[0]; h.Outbox != "completion" || (h.NewestEventID == nil) != (newest == 0) ||
		(h.NewestEventID != nil && *h.NewestEventID != newest) {
		t.Errorf("completion head %+v, want %d", h, newest)
	}
	// The traced statements are what the benchmark hands to sqlite3: they
	// must run as they are.
	if len(stmts) < 5 {
		t.Fatalf("traced %d statements", len(stmts))
	}
	for _, s := range stmts {
		rows, err := db.Query(s)
		if err != nil {
			t.Fatalf("traced statement does not run: %v\n%s", err, s)
		}
		rows.Close()
	}
}

func TestOverviewMatchesFullScans(t *testing.T) {
	t.Run("seeded", func(t *testing.T) { checkOverview(t, seeded(t), inspecttest.SeedNowMS) })
	t.Run("generated", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "gen.db")
		if err := inspecttest.Generate(context.Background(), path, inspecttest.GenOptions{Executions: 5000, NowMS: benchNowMS, Seed: 7}); err != nil {
			t.Fatal(err)
		}
		checkOverview(t, path, benchNowMS)
	})
	// Mostly active executions: the biggest phase decides which state's
	// rows the state query skips; the count must not depend on the guess.
	t.Run("active-heavy", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "active.db")
		b := testdb.OpenPath(t, path)
		for i := range 7 {
			state := [][2]string{{"active", "active"}, {"terminal", "completed"}, {"runnable", "waiting"}}[min(i, 6)/3]
			if i >= 5 {
				state = [2]string{"suspended", "suspended"}
			}
			if _, err := b.WriterDB().Exec(`INSERT INTO ff_exec_core (partition_key, execution_id, lane_id, lifecycle_phase,
				ownership_state, eligibility_state, public_state, attempt_state, created_at_ms) VALUES (?, ?, 'l', ?, 'unowned', 'x', ?, 'x', 1)`,
				i%2, []byte(fmt.Sprintf("exec-%011d", i)), state[0], state[1]); err != nil {
				t.Fatal(err)
			}
		}
		b.Close(context.Background())
		checkOverview(t, path, 1)
	})
}

func TestExecutionLookupAcrossPartitions(t *testing.T) {
	path := seeded(t)
	b := openRO(t, path)
	defer b.Close(context.Background())
	for _, id := range []string{inspecttest.SeedUUID(18), inspecttest.SeedExec(18), "{fp:7}:" + inspecttest.SeedUUID(18)} {
		d, err := inspect.Execution(context.Background(), b.ReaderDB(), id, inspecttest.SeedNowMS)
		if err != nil || d.ID != inspecttest.SeedExec(18) {
			t.Fatalf("lookup %s: %+v %v", id, d, err)
		}
	}
	if _, err := inspect.Execution(context.Background(), b.ReaderDB(), inspecttest.SeedUUID(77), 0); err == nil {
		t.Fatal("found a missing execution")
	}
}

func TestIDsAndCursors(t *testing.T) {
	p, id, err := inspect.ParseExecID("{fp:12}:00000000-0000-4000-8000-00000000000A")
	if err != nil || p != 12 || inspect.ExecID(p, id) != "{fp:12}:00000000-0000-4000-8000-00000000000a" {
		t.Fatalf("%d %x %v", p, id, err)
	}
	for _, bad := range []string{"{fp:}:x", "{fp:1}", "{fp:-1}:00000000-0000-4000-8000-000000000001", "not-a-uuid", ""} {
		if _, _, err := inspect.ParseExecID(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
	if got := inspect.UUIDString([]byte{1, 2}); got != "x'0102'" {
		t.Errorf("odd blob: %s", got)
	}
	c, err := inspect.ParseCursor("5", []string{"lease", "signal"})
	if err != nil || c.String() != "lease:5,signal:5" {
		t.Fatalf("%v %v", c, err)
	}
	c, err = inspect.ParseCursor("operator:3, completion:9", nil)
	if err != nil || c.String() != "completion:9,operator:3" {
		t.Fatalf("%v %v", c, err)
	}
	for _, bad := range []string{"-1", "x:1", "lease:", "lease:-2"} {
		if _, err := inspect.ParseCursor(bad, nil); err == nil {
			t.Errorf("cursor %q parsed", bad)
		}
	}
	if _, err := inspect.ValidateOutboxes([]string{"lease", "stream"}); err == nil {
		t.Error("unknown outbox accepted")
	}
	if all, _ := inspect.ValidateOutboxes(nil); !slices.Equal(all, []string{"completion", "lease", "signal", "operator"}) {
		t.Errorf("all outboxes: %v", all)
	}
}

// Paging with the cursor visits every event exactly once, in order.
func TestEventPagingVisitsEveryEventOnce(t *testing.T) {
	path := seeded(t)
	b := openRO(t, path)
	defer b.Close(context.Background())
	db := b.ReaderDB()
	total := count(t, db, `SELECT (SELECT count(*) FROM ff_completion_event) + (SELECT count(*) FROM ff_lease_event) +
		(SELECT count(*) FROM ff_signal_event) + (SELECT count(*) FROM ff_operator_event)`)
	seen := map[string]bool{}
	cur := inspect.Cursor{}
	for range 100 {
		page, err := inspect.Events(context.Background(), db, inspect.EventQuery{After: cur, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		if len(page.Events) == 0 {
			break
		}
		for _, e := range page.Events {
			k := fmt.Sprintf("%s/%d", e.Outbox, e.EventID)
			if seen[k] {
				t.Fatalf("%s seen twice", k)
			}
			seen[k] = true
		}
		if cur, err = inspect.ParseCursor(page.Cursor, nil); err != nil {
			t.Fatal(err)
		}
	}
	if int64(len(seen)) != total {
		t.Fatalf("paged %d events of %d", len(seen), total)
	}
}
