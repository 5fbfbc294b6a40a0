package peers

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	"maragu.dev/goqite"
	_ "modernc.org/sqlite"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/migrate"
)

// A system is one job queue under test, opened fresh for each run on a
// database file of its own. Every job carries a small payload and a
// priority 0–9; workers take the highest priority first.
type system interface {
	// enqueue adds one job.
	enqueue(ctx context.Context, i int) error
	// work takes one job, runs it (nothing to do) and completes it; found
	// is false when no job is waiting. River runs its own workers instead:
	// see riverSystem.
	work(ctx context.Context, worker int) (found bool, err error)
	close()
}

var payload = []byte(`{"job":true}`)

// sqliteDSN is the SQLite settings every peer runs with, the engine's:
// WAL, synchronous NORMAL, a 5 s busy timeout, foreign keys, 2048-byte
// pages, temp_store MEMORY and BEGIN IMMEDIATE transactions.
func sqliteDSN(path string) string {
	return "file:" + path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)" +
		"&_pragma=foreign_keys(1)&_pragma=temp_store(MEMORY)&_pragma=page_size(2048)&_txlock=immediate"
}

// openSQL opens a pool of one connection (what River's SQLite driver
// recommends, and a single writer for the others too).
func openSQL(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", sqliteDSN(path))
	if err != nil {
		tb.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	return db
}

// --- ffsqlite: the engine's Go API (create, claim, complete).

type ffsqliteSystem struct{ b *backend.Backend }

func openFFSQLite(tb testing.TB, dir string) system {
	ctx := context.Background()
	b, err := backend.Open(ctx, filepath.Join(dir, "ff.db"), backend.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := migrate.UpLatest(ctx, b); err != nil {
		tb.Fatal(err)
	}
	return &ffsqliteSystem{b: b}
}

func (s *ffsqliteSystem) enqueue(ctx context.Context, i int) error {
	_, err := s.b.CreateExecution(ctx, backend.CreateExecutionArgs{
		ExecutionID: backend.NewExecutionID(0), Namespace: "ns", LaneID: "default", ExecutionKind: "job",
		InputPayload: payload, Priority: int32(i % 10), CreatorIdentity: "peers",
	})
	return err
}

func (s *ffsqliteSystem) work(ctx context.Context, worker int) (bool, error) {
	l, err := s.b.Claim(ctx, backend.ClaimArgs{WorkerID: "w", WorkerInstanceID: fmt.Sprint("w-", worker),
		LaneID: "default", LeaseTTLMS: 30_000})
	if err != nil || l == nil {
		return false, err
	}
	return true, s.b.Complete(ctx, l.Handle, []byte("done"))
}

func (s *ffsqliteSystem) close() { s.b.Close(context.Background()) }

// --- plain: a plain indexed SQLite queue with database/sql (the shape of
// ffsqlite's own raw baseline, backend/bench_test.go): insert; claim the
// best waiting job with one UPDATE … WHERE id = (SELECT … LIMIT 1)
// RETURNING through an index on (state, priority, age); finish it by id;
// each statement its own transaction.

type plainSystem struct{ db *sql.DB }

func openPlain(tb testing.TB, dir string) system {
	db := openSQL(tb, filepath.Join(dir, "plain.db"))
	for _, q := range []string{
		`CREATE TABLE job (id INTEGER PRIMARY KEY, state TEXT NOT NULL, priority INTEGER NOT NULL,
  payload BLOB, result BLOB, created_at_ms INTEGER NOT NULL, updated_at_ms INTEGER NOT NULL)`,
		`CREATE INDEX job_claim_idx ON job (state, priority DESC, created_at_ms, id)`,
	} {
		if _, err := db.Exec(q); err != nil {
			tb.Fatal(err)
		}
	}
	return &plainSystem{db: db}
}

func (s *plainSystem) tx(ctx context.Context, f func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := f(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

func (s *plainSystem) enqueue(ctx context.Context, i int) error {
	now := time.Now().UnixMilli()
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO job (state, priority, payload, created_at_ms, updated_at_ms)
VALUES ('waiting', ?1, ?2, ?3, ?3)`, i%10, payload, now)
		return err
	})
}

func (s *plainSystem) work(ctx context.Context, _ int) (bool, error) {
	now := time.Now().UnixMilli()
	var id int64
	err := s.tx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `UPDATE job SET state = 'active', updated_at_ms = ?1
WHERE id = (SELECT id FROM job WHERE state = 'waiting' ORDER BY priority DESC, created_at_ms, id LIMIT 1)
RETURNING id`, now).Scan(&id)
	})
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return true, s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE job SET state = 'completed', result = ?1, updated_at_ms = ?2 WHERE id = ?3`,
			[]byte("done"), now, id)
		return err
	})
}

func (s *plainSystem) close() { s.db.Close() }

// --- goqite: Send, Receive, Delete, on its own schema (read from the
// module, not copied here).

type goqiteSystem struct {
	db *sql.DB
	q  *goqite.Queue
}

var (
	goqiteSchemaOnce sync.Once
	goqiteSchema     string
	goqiteSchemaErr  error
)

// goqiteSQL reads schema_sqlite.sql from the goqite module in use.
func goqiteSQL() (string, error) {
	goqiteSchemaOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "maragu.dev/goqite").Output()
		if err != nil {
			goqiteSchemaErr = fmt.Errorf("locate goqite: %w", err)
			return
		}
		data, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "schema_sqlite.sql"))
		goqiteSchema, goqiteSchemaErr = string(data), err
	})
	return goqiteSchema, goqiteSchemaErr
}

func openGoqite(tb testing.TB, dir string) system {
	schema, err := goqiteSQL()
	if err != nil {
		tb.Fatal(err)
	}
	db := openSQL(tb, filepath.Join(dir, "goqite.db"))
	if _, err := db.Exec(schema); err != nil {
		tb.Fatal(err)
	}
	return &goqiteSystem{db: db, q: goqite.New(goqite.NewOpts{DB: db, Name: "jobs", Timeout: 30 * time.Second})}
}

func (s *goqiteSystem) enqueue(ctx context.Context, i int) error {
	return s.q.Send(ctx, goqite.Message{Body: payload, Priority: i % 10})
}

func (s *goqiteSystem) work(ctx context.Context, _ int) (bool, error) {
	m, err := s.q.Receive(ctx)
	if err != nil || m == nil {
		return false, err
	}
	return true, s.q.Delete(ctx, m.ID)
}

func (s *goqiteSystem) close() { s.db.Close() }

// --- River with its SQLite driver. River runs its own workers (MaxWorkers
// = the workload's worker count) and polls for jobs; it is given its
// shortest fetch cooldown and poll interval (1 ms) so that polling adds as
// little wait as it can. A job is done when River reports it completed
// (its completed event, sent once the completion is written).

type riverArgs struct{}

func (riverArgs) Kind() string { return "peer" }

type riverWorker struct {
	river.WorkerDefaults[riverArgs]
}

func (riverWorker) Work(context.Context, *river.Job[riverArgs]) error { return nil }

type riverSystem struct {
	db     *sql.DB
	client *river.Client[*sql.Tx]
	events <-chan *river.Event
	cancel func()
	done   atomic.Int64
	// waiters gets each completed job's id, for the lifecycle workload.
	mu      sync.Mutex
	waiters map[int64]chan struct{}
	started bool
	stop    chan struct{}
	wg      sync.WaitGroup
}

func openRiver(tb testing.TB, dir string, workers int) *riverSystem {
	ctx := context.Background()
	db := openSQL(tb, filepath.Join(dir, "river.db"))
	m, err := rivermigrate.New(riversqlite.New(db), nil)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		tb.Fatal(err)
	}
	ws := river.NewWorkers()
	river.AddWorker(ws, &riverWorker{})
	client, err := river.NewClient(riversqlite.New(db), &river.Config{
		Queues:            map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: workers}},
		Workers:           ws,
		FetchCooldown:     river.FetchCooldownMin,
		FetchPollInterval: river.FetchPollIntervalMin,
		Logger:            slog.New(slog.DiscardHandler),
	})
	if err != nil {
		tb.Fatal(err)
	}
	s := &riverSystem{db: db, client: client, waiters: map[int64]chan struct{}{}, stop: make(chan struct{})}
	s.events, s.cancel = client.SubscribeConfig(&river.SubscribeConfig{Kinds: []river.EventKind{river.EventKindJobCompleted},
		ChanSize: 1 << 20})
	return s
}

// start runs River's workers and the completed-event reader.
func (s *riverSystem) start(ctx context.Context) error {
	if s.started {
		return nil
	}
	s.started = true
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			select {
			case <-s.stop:
				return
			case ev, ok := <-s.events:
				if !ok || ev == nil || ev.Job == nil {
					return // the subscription closed with the client
				}
				s.done.Add(1)
				s.mu.Lock()
				ch := s.waiters[ev.Job.ID]
				delete(s.waiters, ev.Job.ID)
				s.mu.Unlock()
				if ch != nil {
					close(ch)
				}
			}
		}
	}()
	return s.client.Start(ctx)
}

func (s *riverSystem) enqueue(ctx context.Context, i int) error {
	_, err := s.client.Insert(ctx, riverArgs{}, &river.InsertOpts{Priority: 1 + i%4}) // River's priorities are 1–4
	return err
}

// lifecycle inserts one job and waits until River has completed it.
func (s *riverSystem) lifecycle(ctx context.Context, i int) error {
	ch := make(chan struct{})
	// Registered before the insert commits, so no completion is missed;
	// the id is known only after, so the insert and the registration
	// happen under the lock the event reader takes.
	s.mu.Lock()
	res, err := s.client.Insert(ctx, riverArgs{}, &river.InsertOpts{Priority: 1 + i%4})
	if err == nil {
		s.waiters[res.Job.ID] = ch
	}
	s.mu.Unlock()
	if err != nil {
		return err
	}
	select {
	case <-ch:
		return nil
	case <-time.After(time.Minute):
		return errors.New("river: job not completed within a minute")
	}
}

func (s *riverSystem) work(context.Context, int) (bool, error) {
	return false, errors.New("river runs its own workers")
}

func (s *riverSystem) close() {
	if s.started {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		s.client.Stop(ctx)
		cancel()
		close(s.stop)
		s.wg.Wait()
	}
	s.cancel()
	s.db.Close()
}
