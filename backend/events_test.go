package backend_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/leakcheck"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// engNext receives one event or fails after a generous deadline (the
// event is expected promptly; the deadline only bounds a broken test).
func engNext(t testing.TB, ch <-chan backend.Event) backend.Event {
	t.Helper()
	select {
	case ev, ok := <-ch:
		if !ok {
			t.Fatal("subscription closed")
		}
		return ev
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
	}
	return backend.Event{}
}

// engQuiet asserts nothing arrives right now.
func engQuiet(t testing.TB, ch <-chan backend.Event) {
	t.Helper()
	select {
	case ev := <-ch:
		t.Fatalf("unexpected event %+v", ev)
	default:
	}
}

const engNoPoll = time.Hour // wake-ups only

func TestSubscribeReplayThenLive(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		id := engCreate(t, b)
		l := engClaim(t, b)          // lease 1 acquired
		b.Renew(engCtx, l.Handle, 0) // lease 2 renewed
		b.Renew(engCtx, l.Handle, 0) // lease 3 renewed
		ctx, cancel := context.WithCancel(engCtx)
		defer cancel()
		ch, err := b.Subscribe(ctx, backend.OutboxLease, 1, backend.WithPollInterval(engNoPoll))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []int64{2, 3} {
			ev := engNext(t, ch)
			if ev.EventID != want || ev.Type != "renewed" || ev.ExecutionID != id.String() || ev.LeaseID != l.LeaseID ||
				ev.Namespace != "ns" || ev.Outbox != backend.OutboxLease {
				t.Fatalf("replayed %+v", ev)
			}
		}
		engQuiet(t, ch)
		if err := b.Complete(engCtx, l.Handle, nil); err != nil { // lease 4 released
			t.Fatal(err)
		}
		if ev := engNext(t, ch); ev.EventID != 4 || ev.Type != "released" {
			t.Fatalf("live %+v", ev)
		}
		// A refused call writes and wakes nothing.
		b.Renew(engCtx, l.Handle, 0)
		engQuiet(t, ch)
		// Completion and operator outboxes.
		comp, _ := b.Subscribe(ctx, backend.OutboxCompletion, 0, backend.WithPollInterval(engNoPoll))
		if ev := engNext(t, comp); ev.Type != "success" || ev.ExecutionID != id.String() || ev.EventID != 1 {
			t.Fatalf("completion %+v", ev)
		}
		ops, _ := b.Subscribe(ctx, backend.OutboxOperator, 0, backend.WithPollInterval(engNoPoll))
		if _, err := b.ReplayExecution(engCtx, backend.ReplayExecutionArgs{ExecutionID: id}); err != nil {
			t.Fatal(err)
		}
		if ev := engNext(t, ops); ev.Type != "replayed" || ev.Details == "" {
			t.Fatalf("operator %+v", ev)
		}
		cancel()
		for range ch {
		}
		if _, err := b.Subscribe(engCtx, backend.Outbox(99), 0); backend.KindOf(err) != backend.KindValidation {
			t.Fatalf("bad outbox: %v", err)
		}
	})
}

// TestSubscribeCrossHandle: a subscriber on one handle is woken by commits
// through another handle of the same path.
func TestSubscribeCrossHandle(t *testing.T) {
	engBoth(t, func(t *testing.T, b1 *backend.Backend, _ *testdb.Clock) {
		b2, err := backend.Open(engCtx, b1.Path(), backend.Options{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b2.Close(engCtx) })
		if !b2.SameAs(b1) {
			t.Fatal("not shared")
		}
		ch, err := b1.Subscribe(engCtx, backend.OutboxCompletion, 0, backend.WithPollInterval(engNoPoll))
		if err != nil {
			t.Fatal(err)
		}
		id := engCreate(t, b2)
		if _, err := b2.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: id, Reason: "x"}); err != nil {
			t.Fatal(err)
		}
		if ev := engNext(t, ch); ev.Type != "cancelled" || ev.ExecutionID != id.String() {
			t.Fatalf("%+v", ev)
		}
	})
}

// TestSubscribeOtherProcess: rows committed outside this backend (another
// process, simulated by a separate connection) arrive through the poll.
func TestSubscribeOtherProcess(t *testing.T) {
	t.Parallel()
	b, _ := engOpen(t, false)
	ch, err := b.Subscribe(engCtx, backend.OutboxLease, 0, backend.WithPollInterval(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", b.Path()+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for i := range 3 {
		if _, err := other.Exec(`INSERT INTO ff_lease_event (execution_id, lease_id, event_type, occurred_at_ms, partition_key)
VALUES (?, NULL, 'acquired', ?, 0)`, fmt.Sprintf("{fp:0}:%d", i), i); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		if ev := engNext(t, ch); ev.EventID != int64(i+1) || ev.OccurredAtMS != int64(i) {
			t.Fatalf("%+v", ev)
		}
	}
}

// TestSubscribeExactlyOnce: concurrent writers; one subscriber started
// early and one late both see every event once, in order.
func TestSubscribeExactlyOnce(t *testing.T) {
	engBoth(t, func(t *testing.T, b *backend.Backend, _ *testdb.Clock) {
		const n = 120
		early, _ := b.Subscribe(engCtx, backend.OutboxCompletion, 0, backend.WithBuffer(0), backend.WithPollInterval(engNoPoll))
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range n / 4 {
					id := backend.NewExecutionID(uint16(w))
					a := engArgs(func(a *backend.CreateExecutionArgs) { a.ExecutionID = id })
					if _, err := b.CreateExecution(engCtx, a); err != nil {
						t.Error(err)
						return
					}
					if _, err := b.CancelExecution(engCtx, backend.CancelExecutionArgs{ExecutionID: id, Reason: fmt.Sprint(i)}); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		check := func(ch <-chan backend.Event) {
			t.Helper()
			seen := map[string]bool{}
			for i := range n {
				ev := engNext(t, ch)
				if ev.EventID != int64(i+1) || seen[ev.ExecutionID] {
					t.Fatalf("event %d: %+v (dup=%v)", i, ev, seen[ev.ExecutionID])
				}
				seen[ev.ExecutionID] = true
			}
		}
		check(early)
		wg.Wait()
		late, _ := b.Subscribe(engCtx, backend.OutboxCompletion, 0, backend.WithPollInterval(engNoPoll))
		check(late)
		engQuiet(t, early)
		engQuiet(t, late)
	})
}

func TestSubscribeEndsOnClose(t *testing.T) {
	t.Parallel()
	clock := testdb.NewClock(engT0)
	path := t.TempDir() + "/ff.db"
	b := testdb.OpenPath(t, path, testdb.WithClock(clock.Now))
	ch, err := b.Subscribe(engCtx, backend.OutboxLease, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(engCtx); err != nil {
		t.Fatal(err)
	}
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("event after close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("subscription survived Close")
	}
}

// TestSubscribeAfterClose: once the last handle has closed, Subscribe
// refuses with a typed error and starts nothing, whether or not a
// subscription ever ran before (the event hub is created lazily, so a
// first Subscribe after Close used to build a hub nobody would stop and
// leave its goroutine polling the closed database). It does not run in
// parallel, so the goroutine check sees only what Subscribe started.
func TestSubscribeAfterClose(t *testing.T) {
	for _, tc := range []struct {
		name       string
		memory     bool
		subscribed bool // a subscription ran (and ended) before Close
	}{
		{"file/fresh", false, false},
		{"memory/fresh", true, false},
		{"file/subscribed", false, true},
		{"memory/subscribed", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := engOpen(t, tc.memory)
			if tc.subscribed {
				ctx, cancel := context.WithCancel(engCtx)
				ch, err := b.Subscribe(ctx, backend.OutboxLease, 0)
				if err != nil {
					t.Fatal(err)
				}
				cancel()
				for range ch {
				}
			}
			if err := b.Close(engCtx); err != nil {
				t.Fatal(err)
			}
			before := goleak.IgnoreCurrent()
			ch, err := b.Subscribe(engCtx, backend.OutboxCompletion, 0, backend.WithPollInterval(time.Millisecond))
			engWantCode(t, err, backend.KindUnavailable, "closed")
			if ch != nil {
				t.Fatal("Subscribe after Close returned a channel")
			}
			goleak.VerifyNone(t, append(leakcheck.Options(), before)...)
		})
	}
}
