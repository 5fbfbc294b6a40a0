package backend_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/suspension"
)

// TestWALFramesPerWaitCycle logs (and bounds) the WAL frames each step of
// the durable-wait cycle writes, like TestWALFramesPerJob for the plain
// lifecycle: suspend and signal are where the cycle's extra cost lives.
func TestWALFramesPerWaitCycle(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ff.db")
	e := testdb.OpenPath(t, path)
	if _, err := e.WriterDB().ExecContext(ctx, "PRAGMA wal_autocheckpoint=0"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.SeedWaitpointSecret(ctx, "k1", waitSecret); err != nil {
		t.Fatal(err)
	}
	var steps [6]int
	names := []string{"create", "claim", "suspend", "signal", "resumed claim", "complete"}
	cycle := func(count bool, wal *walCounter) {
		at := func(i int, prev int) int {
			if !count {
				return 0
			}
			n := wal.count()
			steps[i] += n - prev
			return n
		}
		f := 0
		if count {
			f = wal.count()
		}
		a := engArgs()
		if _, err := e.CreateExecution(ctx, a); err != nil {
			t.Fatal(err)
		}
		f = at(0, f)
		l := engClaim(t, e)
		f = at(1, f)
		wp := uuid.New()
		key := "wpk:" + wp.String()
		out, err := e.Suspend(ctx, l.Handle, suspension.SuspendArgs{
			SuspensionID: uuid.New(), Waitpoints: []suspension.WaitpointBinding{suspension.Fresh(wp, key)},
			ResumeCondition: suspension.Single(key, suspension.ByName("approve")), ResumePolicy: suspension.DefaultResumePolicy(),
			ReasonCode: suspension.ReasonWaitingForApproval, RequestedBy: suspension.RequestedByWorker, TimeoutBehavior: suspension.TimeoutFail,
		})
		if err != nil {
			t.Fatal(err)
		}
		f = at(2, f)
		if _, err := e.DeliverSignal(ctx, waitSignal(a.ExecutionID, wp.String(), out.Details.WaitpointToken, "approve")); err != nil {
			t.Fatal(err)
		}
		f = at(3, f)
		r := engClaim(t, e)
		f = at(4, f)
		if err := e.Complete(ctx, r.Handle, []byte("done")); err != nil {
			t.Fatal(err)
		}
		at(5, f)
	}
	for range 50 {
		cycle(false, nil)
	}
	wal := newWALCounter(t, path)
	const jobs = 200
	for range jobs {
		cycle(true, wal)
	}
	total := 0
	for i, n := range steps {
		total += n
		t.Logf("%s: %.2f frames", names[i], float64(n)/jobs)
	}
	t.Logf("cycle: %.2f frames per job (page size %d)", float64(total)/jobs, backend.DefaultPageSize)
	// Measured with 2048-byte pages: suspend 16.1, signal 9.6, resumed
	// claim 9.5 (a plain claim 10.6); the bounds leave room for splits.
	for i, max := range map[int]float64{2: 17.5, 3: 11, 4: 11} {
		if got := float64(steps[i]) / jobs; got > max {
			t.Errorf("%s writes %.2f WAL frames per cycle, want <= %.1f", names[i], got, max)
		}
	}
}
