package backend_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/retry"
)

// Benchmarks run on file databases with the engine's defaults: WAL,
// synchronous NORMAL, busy_timeout 5 s, temp_store MEMORY, 2048-byte
// pages, one writer connection, BEGIN IMMEDIATE per write transaction
// (concurrent writes are group-committed: several callers' transactions
// share one BEGIN/COMMIT, each in its own savepoint), WAL checkpoints in
// the background.

// engBenchEngine opens a fresh file engine on the wall clock.
func engBenchEngine(b *testing.B) *backend.Backend {
	b.Helper()
	return testdb.Open(b)
}

// engBenchBusy counts busy/locked errors that reached a caller; any error
// fails the benchmark.
type engBenchBusy struct{ n atomic.Int64 }

func (c *engBenchBusy) check(b *testing.B, what string, err error) bool {
	if err == nil {
		return true
	}
	if retry.IsRetryableBusy(err) {
		c.n.Add(1)
	}
	b.Errorf("%s: %v", what, err)
	return false
}

func (c *engBenchBusy) report(b *testing.B) {
	if n := c.n.Load(); n > 0 {
		b.Fatalf("%d busy errors reached a caller", n)
	}
}

func BenchmarkCreate(b *testing.B) {
	e := engBenchEngine(b)
	var busy engBenchBusy
	args := make([]backend.CreateExecutionArgs, b.N)
	for i := range args {
		args[i] = engArgs()
	}
	b.ResetTimer()
	for i := range b.N {
		_, err := e.CreateExecution(engCtx, args[i])
		if !busy.check(b, "create", err) {
			break
		}
	}
	b.StopTimer()
	busy.report(b)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "creates/s")
}

// BenchmarkClaimComplete times claim + complete with a backlog of at most
// 256 waiting executions (created in untimed batches).
func BenchmarkClaimComplete(b *testing.B) {
	e := engBenchEngine(b)
	var busy engBenchBusy
	const batch = 256
	b.ResetTimer()
	for done := 0; done < b.N; {
		b.StopTimer()
		n := min(batch, b.N-done)
		for range n {
			_, err := e.CreateExecution(engCtx, engArgs())
			if !busy.check(b, "create", err) {
				return
			}
		}
		b.StartTimer()
		for range n {
			l, err := e.Claim(engCtx, engClaimArgs())
			if !busy.check(b, "claim", err) {
				return
			}
			if l == nil {
				b.Fatal("no work")
			}
			if !busy.check(b, "complete", e.Complete(engCtx, l.Handle, []byte("ok"))) {
				return
			}
		}
		done += n
	}
	b.StopTimer()
	busy.report(b)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
}

// engLifecycleRate1 remembers the last workers=1 engine rate so workers=16
// can report its ratio to it.
var engLifecycleRate1 atomic.Value

// BenchmarkLifecycle: each job is create → claim → complete, run by
// 1 or 16 workers. In the same run, a baseline does the same number of
// jobs as 3 single-statement write transactions each (insert, claim,
// finish) with plain database/sql on a table of its own in a separate file
// with the same settings, shaped like a plain SQLite job queue (rawQueue);
// jobs/s of both and their ratio are reported, and the ratio to the
// no-index floor (rawFloor) beside it.
func BenchmarkLifecycle(b *testing.B) {
	for _, workers := range []int{1, 16} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			e := engBenchEngine(b)
			var busy engBenchBusy
			payload := []byte(`{"job":true}`)
			gc0 := e.GroupCommitStats()
			b.ResetTimer()
			start := time.Now()
			engBenchParallel(b.N, workers, func(int) bool {
				a := engArgs(func(a *backend.CreateExecutionArgs) { a.InputPayload = payload })
				if _, err := e.CreateExecution(engCtx, a); !busy.check(b, "create", err) {
					return false
				}
				l, err := e.Claim(engCtx, engClaimArgs())
				if !busy.check(b, "claim", err) {
					return false
				}
				if l == nil {
					b.Error("claim found no work")
					return false
				}
				return busy.check(b, "complete", e.Complete(engCtx, l.Handle, []byte("done")))
			})
			engine := time.Since(start)
			b.StopTimer()
			busy.report(b)
			gc1 := e.GroupCommitStats()

			raw := engBenchRaw(b, rawQueue, b.N, workers)
			floor := engBenchRaw(b, rawFloor, b.N, workers)
			engineRate := float64(b.N) / engine.Seconds()
			rawRate := float64(b.N) / raw.Seconds()
			floorRate := float64(b.N) / floor.Seconds()
			b.ReportMetric(engineRate, "jobs/s")
			b.ReportMetric(rawRate, "raw_jobs/s")
			b.ReportMetric(engineRate/rawRate, "ratio_vs_raw")
			b.ReportMetric(engineRate/floorRate, "ratio_vs_floor")
			// Write transactions (group commits) per job: 3 without batching.
			b.ReportMetric(float64(gc1.Batches-gc0.Batches)/float64(b.N), "txns/job")
			if workers == 1 {
				engLifecycleRate1.Store(engineRate)
			} else if r1, ok := engLifecycleRate1.Load().(float64); ok && r1 > 0 {
				b.ReportMetric(engineRate/r1, "ratio_vs_1worker")
			}
		})
	}
}

// engBenchParallel runs n jobs on workers goroutines; a job returning false
// stops that worker.
func engBenchParallel(n, workers int, job func(i int) bool) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) || !job(int(i)) {
					return
				}
			}
		}()
	}
	wg.Wait()
}

// rawShape is the table and statements of one raw baseline.
type rawShape struct {
	schema []string
	insert string // ?1 payload, ?2 now; RETURNING id
	claim  string // ?1 now (and ?2 the job's own id when claimByID); RETURNING id
	// claimByID: the claim names the row it claims instead of choosing it.
	claimByID bool
	finish    string // ?1 result, ?2 now, ?3 id
}

var (
	// rawQueue is what a plain SQLite job queue does with three
	// single-statement transactions (goqite's shape): insert the job,
	// claim the best waiting one through an index (priority, then age),
	// finish it by id. This is the baseline the ratio targets refer to.
	rawQueue = rawShape{
		schema: []string{
			`CREATE TABLE raw_job (id INTEGER PRIMARY KEY, state TEXT NOT NULL, priority INTEGER NOT NULL DEFAULT 0,
  payload BLOB, result BLOB, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL)`,
			`CREATE INDEX raw_job_claim_idx ON raw_job (state, priority DESC, created_at_ms, id)`,
		},
		insert: `INSERT INTO raw_job (state, payload, created_at_ms, updated_at_ms) VALUES ('waiting', ?1, ?2, ?2) RETURNING id`,
		claim: `UPDATE raw_job SET state = 'active', updated_at_ms = ?1
WHERE id = (SELECT id FROM raw_job WHERE state = 'waiting' ORDER BY priority DESC, created_at_ms, id LIMIT 1)
RETURNING id`,
		finish: `UPDATE raw_job SET state = 'completed', result = ?1, updated_at_ms = ?2 WHERE id = ?3`,
	}
	// rawFloor is the least a three-transaction lifecycle can write: no
	// index, the "claim" updates the row it just inserted by primary key.
	// It is reported beside the queue baseline as a floor.
	rawFloor = rawShape{
		schema: []string{`CREATE TABLE raw_job (id INTEGER PRIMARY KEY, state TEXT NOT NULL,
  payload BLOB, result BLOB, updated_at_ms INTEGER NOT NULL)`},
		insert:    `INSERT INTO raw_job (state, payload, updated_at_ms) VALUES ('waiting', ?1, ?2) RETURNING id`,
		claim:     `UPDATE raw_job SET state = 'active', updated_at_ms = ?1 WHERE id = ?2 RETURNING id`,
		claimByID: true,
		finish:    `UPDATE raw_job SET state = 'completed', result = ?1, updated_at_ms = ?2 WHERE id = ?3`,
	}
)

// openRawDB opens a raw baseline database in a file of its own with one
// writer connection and the engine writer's settings (plus the extra DSN
// parameters, "&..."), creates shape's table and returns the pool, closed
// with tb, and the file's path.
func openRawDB(tb testing.TB, shape rawShape, extra string) (*sql.DB, string) {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "raw.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"+
		"&_pragma=synchronous(NORMAL)&_pragma=foreign_keys(1)&_pragma=temp_store(MEMORY)&_txlock=immediate"+
		fmt.Sprintf("&_pragma=page_size(%d)", backend.DefaultPageSize)+extra)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	for _, q := range shape.schema {
		if _, err := db.Exec(q); err != nil {
			tb.Fatal(err)
		}
	}
	return db, path
}

// rawDB runs a raw baseline's statements, each its own BEGIN IMMEDIATE
// transaction, on a plain database/sql pool with one writer connection.
type rawDB struct {
	db    *sql.DB
	shape rawShape
}

// openRaw opens a raw baseline of shape in a file of its own (openRawDB).
func openRaw(tb testing.TB, shape rawShape) *rawDB {
	db, _ := openRawDB(tb, shape, "")
	return &rawDB{db: db, shape: shape}
}

// one runs q, which returns an id, in a transaction of its own.
func (r *rawDB) one(q string, args ...any) (int64, error) {
	tx, err := r.db.BeginTx(context.Background(), nil)
	if err != nil {
		return 0, err
	}
	var id int64
	if err := tx.QueryRow(q, args...).Scan(&id); err != nil {
		tx.Rollback()
		return 0, err
	}
	return id, tx.Commit()
}

func (r *rawDB) insert(payload []byte, now int64) (int64, error) {
	return r.one(r.shape.insert, payload, now)
}

// claim takes the best waiting job (or, for a claimByID shape, job id);
// found is false when none is waiting.
func (r *rawDB) claim(now, id int64) (claimed int64, found bool, err error) {
	args := []any{now}
	if r.shape.claimByID {
		args = append(args, id)
	}
	claimed, err = r.one(r.shape.claim, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	return claimed, err == nil, err
}

func (r *rawDB) finish(result []byte, now, id int64) error {
	tx, err := r.db.BeginTx(context.Background(), nil)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(r.shape.finish, result, now, id); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// completed fails b unless n jobs are completed.
func (r *rawDB) completed(b *testing.B, n int) {
	b.Helper()
	var count int
	if err := r.db.QueryRow(`SELECT count(*) FROM raw_job WHERE state = 'completed'`).Scan(&count); err != nil || count != n {
		b.Fatalf("raw baseline completed %d of %d: %v", count, n, errors.Join(err))
	}
}

// engBenchRaw times n jobs of three single-statement BEGIN IMMEDIATE
// transactions of shape on a plain database/sql pool with one writer
// connection, in a file of its own, with the engine writer's settings: WAL,
// synchronous NORMAL, busy_timeout, foreign_keys, the engine's page size
// and temp_store MEMORY (which the raw statements never need, but the
// settings stay the same). Its checkpoints are SQLite's automatic ones,
// inside its commits: plain database/sql has no other.
func engBenchRaw(b *testing.B, shape rawShape, n, workers int) time.Duration {
	b.Helper()
	r := openRaw(b, shape)
	var busy engBenchBusy
	payload := []byte(`{"job":true}`)
	start := time.Now()
	engBenchParallel(n, workers, func(int) bool {
		now := time.Now().UnixMilli()
		id, err := r.insert(payload, now)
		if !busy.check(b, "raw insert", err) {
			return false
		}
		claimed, found, err := r.claim(now, id)
		if err == nil && !found {
			err = errors.New("no job waiting")
		}
		return busy.check(b, "raw claim", err) &&
			busy.check(b, "raw complete", r.finish([]byte("done"), now, claimed))
	})
	d := time.Since(start)
	busy.report(b)
	r.completed(b, n)
	return d
}

// engClaimBacklog1k remembers the last ms/claim at a backlog of 1,000
// so the larger backlogs can report their ratio to it.
var engClaimBacklog1k atomic.Value

// BenchmarkClaimBacklog times claim + complete with a steady backlog of
// 1,000, 10,000 and 100,000 waiting executions in the lane (priorities
// 0–9; one is created, untimed, for each one completed) and reports each
// size's cost as a ratio to the 1,000 one from the same run (target at
// 100,000: ≤ 1.5×). Beside it, schema_ms/pick is the schema-only claim
// query (qClaimPickSchema: every runnable row of the lane read and
// sorted) on the same backlog, which is what a claim cost before the
// ready index, build_ms the first claim, which builds the index (untimed
// otherwise), and rebuilds the index's rebuilds while timed (want 0).
//
//	go test -run '^$' -bench ClaimBacklog -benchtime 200x -count 3 ./backend/
func BenchmarkClaimBacklog(b *testing.B) {
	for _, backlog := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("backlog=%d", backlog), func(b *testing.B) {
			e := engBenchEngine(b)
			prio := func(i int) func(*backend.CreateExecutionArgs) {
				return func(a *backend.CreateExecutionArgs) { a.Priority = int32(i % 10) }
			}
			engBenchParallel(backlog, 8, func(i int) bool {
				_, err := e.CreateExecution(engCtx, engArgs(prio(i)))
				if err != nil {
					b.Error(err)
				}
				return err == nil
			})
			schema := engBenchSchemaPick(b, e)
			// The first claim builds the ready index (timed apart).
			start := time.Now()
			l, err := e.Claim(engCtx, engClaimArgs())
			if err != nil || l == nil {
				b.Fatalf("claim: %v %v", l, err)
			}
			build := time.Since(start)
			if err := e.Complete(engCtx, l.Handle, nil); err != nil {
				b.Fatal(err)
			}
			if _, err := e.CreateExecution(engCtx, engArgs(prio(0))); err != nil {
				b.Fatal(err)
			}
			rebuilds := e.ReadyRebuildsForTest()
			b.ResetTimer()
			for i := range b.N {
				l, err := e.Claim(engCtx, engClaimArgs())
				if err != nil || l == nil {
					b.Fatalf("claim: %v %v", l, err)
				}
				if err := e.Complete(engCtx, l.Handle, nil); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if _, err := e.CreateExecution(engCtx, engArgs(prio(i))); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			perOp := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(perOp*1e3, "ms/claim")
			b.ReportMetric(schema.Seconds()*1e3, "schema_ms/pick")
			b.ReportMetric(build.Seconds()*1e3, "build_ms")
			b.ReportMetric(float64(e.ReadyRebuildsForTest()-rebuilds), "rebuilds")
			if backlog == 1_000 {
				engClaimBacklog1k.Store(perOp)
			} else if base, ok := engClaimBacklog1k.Load().(float64); ok && base > 0 {
				b.ReportMetric(perOp/base, "ratio_vs_1k")
			}
		})
	}
}

// engBenchSchemaPick returns the mean time of the schema-only claim query
// on e's reader (five runs).
func engBenchSchemaPick(b *testing.B, e *backend.Backend) time.Duration {
	b.Helper()
	const runs = 5
	start := time.Now()
	for range runs {
		var (
			part  int64
			key   []byte
			state string
		)
		if err := e.ReaderDB().QueryRowContext(engCtx, backend.ClaimPickSchemaSQLForTest(), "default",
			e.Now(), "[]").Scan(&part, &key, &state); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start) / runs
}

// BenchmarkWriterCache compares writer page cache sizes on databases of
// 100,000 waiting executions (FF_BENCH_CACHE_BACKLOG sets another count):
// one engine per size, each op one job
// (create, claim, complete) on each engine in turn (the order rotating),
// so load swings hit every size alike; it reports each size's cost per
// job and its ratio to SQLite's default 2 MB.
//
//	go test -run '^$' -bench WriterCache -benchtime 3000x -count 3 ./backend/
func BenchmarkWriterCache(b *testing.B) {
	backlog := 100_000
	if v := os.Getenv("FF_BENCH_CACHE_BACKLOG"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			b.Fatalf("FF_BENCH_CACHE_BACKLOG=%q: want a positive count", v)
		}
		backlog = n
	}
	type side struct {
		mib  int
		e    *backend.Backend
		took time.Duration
	}
	var sides []*side
	for _, mib := range []int{2, backend.DefaultWriterCacheMiB, 64} {
		// SQLite's default, -2000 KiB, is within 2.4 % of 2 MiB.
		e := testdb.Open(b, func(o *backend.Options) { o.WriterCacheMiB = mib })
		engBenchParallel(backlog, 8, func(i int) bool {
			_, err := e.CreateExecution(engCtx, engArgs(func(a *backend.CreateExecutionArgs) { a.Priority = int32(i % 10) }))
			if err != nil {
				b.Error(err)
			}
			return err == nil
		})
		// The first claim builds the ready index.
		if _, err := e.Claim(engCtx, engClaimArgs()); err != nil {
			b.Fatal(err)
		}
		sides = append(sides, &side{mib: mib, e: e})
	}
	job := func(s *side, i int) {
		start := time.Now()
		if _, err := s.e.CreateExecution(engCtx, engArgs(func(a *backend.CreateExecutionArgs) { a.Priority = int32(i % 10) })); err != nil {
			b.Fatal(err)
		}
		l, err := s.e.Claim(engCtx, engClaimArgs())
		if err != nil || l == nil {
			b.Fatalf("claim: %v %v", l, err)
		}
		if err := s.e.Complete(engCtx, l.Handle, nil); err != nil {
			b.Fatal(err)
		}
		s.took += time.Since(start)
	}
	b.ResetTimer()
	for i := range b.N {
		for k := range sides {
			job(sides[(i+k)%len(sides)], i)
		}
	}
	b.StopTimer()
	for _, s := range sides {
		b.ReportMetric(s.took.Seconds()*1e3/float64(b.N), fmt.Sprintf("ms/job_%dMiB", s.mib))
		if s != sides[0] {
			b.ReportMetric(sides[0].took.Seconds()/s.took.Seconds(), fmt.Sprintf("speedup_%dMiB", s.mib))
		}
	}
}
