package backend_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// floorLease is what the floor's claim took: the execution row, its key
// and text id, the lease id.
type floorLease struct {
	rowid, part int64
	id          []byte
	execID      string // the events' text form of the id, as the engine writes it
	lease       string
}

// floorStep is one statement of a floor transaction.
type floorStep struct {
	q    string
	args []any
}

// floorTx runs steps in one write transaction of e's writer (WriteTx:
// its connection, prepared statements, background checkpoints).
func floorTx(ctx context.Context, e *backend.Backend, op string, steps ...floorStep) error {
	return e.WriteTx(ctx, op, func(ctx context.Context, tx *backend.Txn) error {
		return floorRun(ctx, tx, steps...)
	})
}

// floorRun runs steps in tx, in order.
func floorRun(ctx context.Context, tx *backend.Txn, steps ...floorStep) error {
	for _, s := range steps {
		if _, err := tx.ExecContext(ctx, s.q, s.args...); err != nil {
			return err
		}
	}
	return nil
}

// floorClaim claims an execution of the default lane of partition part
// with backend.FloorStmts in one transaction: pick, attempt, execution
// row, lease event.
func floorClaim(ctx context.Context, e *backend.Backend, part int64) (*floorLease, error) {
	s := backend.FloorStmts
	l := &floorLease{lease: uuid.NewString()}
	now := time.Now().UnixMilli()
	err := e.WriteTx(ctx, "floor_claim", func(ctx context.Context, tx *backend.Txn) error {
		if err := tx.QueryRowContext(ctx, s.Pick, part).Scan(&l.rowid, &l.part, &l.id); err != nil {
			return fmt.Errorf("pick: %w", err)
		}
		u, err := uuid.FromBytes(l.id)
		if err != nil {
			return err
		}
		l.execID = backend.ExecutionID{Partition: uint16(l.part), UUID: u}.String()
		return floorRun(ctx, tx,
			floorStep{s.Attempt, []any{l.part, l.id, now + 30000, now, uuid.NewString(), l.lease}},
			floorStep{s.Claim, []any{l.rowid, now}},
			floorStep{s.LeaseEvent, []any{l.execID, l.lease, "acquired", now, l.part}})
	})
	return l, err
}

// floorComplete completes l's attempt in one transaction: attempt,
// execution row, completion event, lease event.
func floorComplete(ctx context.Context, e *backend.Backend, l *floorLease) error {
	s := backend.FloorStmts
	now := time.Now().UnixMilli()
	return floorTx(ctx, e, "floor_complete",
		floorStep{s.End, []any{l.part, l.id, now}},
		floorStep{s.Terminal, []any{l.rowid, now, []byte("done")}},
		floorStep{s.Completion, []any{l.part, l.id, now}},
		floorStep{s.LeaseEvent, []any{l.execID, l.lease, "released", now, l.part}})
}

// floorJob claims and completes one execution of partition part.
func floorJob(ctx context.Context, e *backend.Backend, part int64) error {
	l, err := floorClaim(ctx, e, part)
	if err != nil {
		return err
	}
	return floorComplete(ctx, e, l)
}

// BenchmarkDrainFloor bounds what BenchmarkDrain's 1-worker drain_ratio
// can reach while the file keeps the upstream schema: b.N executions are
// created through the engine, then drained with backend.FloorStmts — only
// the rows a claim and a completion must write (the attempt, the
// execution row, a lease event each, the completion event), in the
// fewest statements, with no engine logic, no fencing and a pick in no
// order, on the engine's own writer — against the raw queue baseline
// (rawQueue) draining as many jobs, alternating every drainChunk jobs.
// floor_ratio is that bound; engine_ratio, the engine's Claim + Complete
// on a third file in the same rounds, is BenchmarkDrain's drain_ratio.
//
//	go test -run '^$' -bench DrainFloor -benchtime 20000x -count 3 ./backend/
func BenchmarkDrainFloor(b *testing.B) {
	floor, eng := testdb.Open(b), testdb.Open(b)
	raw := openRaw(b, rawQueue)
	payload := []byte(`{"job":true}`)
	var part int64 // the partition engArgs' ids share
	for i := range b.N {
		for _, e := range []*backend.Backend{floor, eng} {
			a := engArgs(func(a *backend.CreateExecutionArgs) { a.InputPayload, a.Priority = payload, int32(i%10) })
			if _, err := e.CreateExecution(engCtx, a); err != nil {
				b.Fatal(err)
			}
			part = int64(a.ExecutionID.Partition)
		}
		if _, err := raw.insert(payload, time.Now().UnixMilli()); err != nil {
			b.Fatal(err)
		}
	}
	var floorTime, engTime, rawTime time.Duration
	timed := func(d *time.Duration, n int, job func() error) {
		start := time.Now()
		for range n {
			if err := job(); err != nil {
				b.Fatal(err)
			}
		}
		*d += time.Since(start)
	}
	b.ResetTimer()
	for lo := 0; lo < b.N; lo += drainChunk {
		n := min(drainChunk, b.N-lo)
		timed(&floorTime, n, func() error { return floorJob(engCtx, floor, part) })
		timed(&engTime, n, func() error {
			l, err := eng.Claim(engCtx, engClaimArgs())
			if err != nil || l == nil {
				return fmt.Errorf("claim: %v, %v", l, err)
			}
			return eng.Complete(engCtx, l.Handle, []byte("done"))
		})
		timed(&rawTime, n, func() error {
			now := time.Now().UnixMilli()
			id, found, err := raw.claim(now, 0)
			if err != nil || !found {
				return fmt.Errorf("raw claim: %v, %v", found, err)
			}
			return raw.finish([]byte("done"), now, id)
		})
	}
	b.StopTimer()
	raw.completed(b, b.N)
	rate := func(d time.Duration) float64 { return float64(b.N) / d.Seconds() }
	b.ReportMetric(rate(floorTime), "floor_jobs/s")
	b.ReportMetric(rate(engTime), "engine_jobs/s")
	b.ReportMetric(rate(rawTime), "raw_drain_jobs/s")
	b.ReportMetric(rate(floorTime)/rate(rawTime), "floor_ratio")
	b.ReportMetric(rate(engTime)/rate(rawTime), "engine_ratio")
}
