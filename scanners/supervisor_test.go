package scanners_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/scanners"
)

func TestMain(m *testing.M) { testdb.Main(m) }

// waitLimit bounds every wait on a channel so a broken supervisor fails
// the test instead of hanging it; no test sleeps for the clock.
const waitLimit = 10 * time.Second

// fake is a scripted reconciler. Each tick calls fn (when set) with the
// 1-based tick number and then announces the tick on ticks.
type fake struct {
	name  string
	fn    func(ctx context.Context, n int64) (scanners.Report, error)
	n     atomic.Int64  // ticks started
	done  atomic.Int64  // ticks finished (returned or panicked)
	nows  chan int64    // the now of the first ticks
	ticks chan struct{} // wake-up after each finished tick
}

func newFake(name string, fn func(ctx context.Context, n int64) (scanners.Report, error)) *fake {
	return &fake{name: name, fn: fn, ticks: make(chan struct{}, 1), nows: make(chan int64, 64)}
}

func (f *fake) Name() string { return f.name }

func (f *fake) Tick(ctx context.Context, now int64) (scanners.Report, error) {
	n := f.n.Add(1)
	select {
	case f.nows <- now:
	default:
	}
	defer func() {
		f.done.Add(1)
		select {
		case f.ticks <- struct{}{}:
		default: // a wake-up is already pending
		}
	}()
	if f.fn != nil {
		return f.fn(ctx, n)
	}
	return scanners.Report{}, nil
}

// waitTicks waits until f has finished at least n ticks.
func (f *fake) waitTicks(t *testing.T, n int64) {
	t.Helper()
	deadline := time.After(waitLimit)
	for f.done.Load() < n {
		select {
		case <-f.ticks:
		case <-deadline:
			t.Fatalf("%s: %d ticks after %s, want %d", f.name, f.done.Load(), waitLimit, n)
		}
	}
}

type logBuf struct {
	mu sync.Mutex
	sb strings.Builder
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sb.String()
}

func testLogger(level slog.Level) (*slog.Logger, *logBuf) {
	var buf logBuf
	return slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level})), &buf
}

func shutdown(t *testing.T, s *scanners.Supervisor) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	if late := s.Shutdown(ctx); late != nil {
		t.Fatalf("Shutdown timed out: %v", late)
	}
}

func statsOf(s *scanners.Supervisor, name string) scanners.Stats {
	for _, st := range s.Stats() {
		if st.Reconciler == name {
			return st
		}
	}
	return scanners.Stats{}
}

func TestSupervisorZeroIntervalNotStarted(t *testing.T) {
	t.Parallel()
	off := newFake("off", nil)
	on := newFake("on", nil)
	log, _ := testLogger(slog.LevelInfo)
	s := scanners.New(scanners.Options{Logger: log},
		scanners.Scheduled{Reconciler: off, Interval: 0},
		scanners.Scheduled{Reconciler: on, Interval: time.Millisecond})
	if got := s.Names(); !slices.Equal(got, []string{"on"}) {
		t.Fatalf("enabled = %v", got)
	}
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	on.waitTicks(t, 3)
	shutdown(t, s)
	if off.n.Load() != 0 {
		t.Fatalf("disabled reconciler ticked %d times", off.n.Load())
	}
	if reps := s.RunOnce(context.Background(), 1); len(reps) != 1 || reps[0].Reconciler != "on" {
		t.Fatalf("RunOnce ran %+v", reps)
	}
	if len(s.Stats()) != 1 {
		t.Fatalf("stats = %+v", s.Stats())
	}
}

func TestSupervisorInjectedClock(t *testing.T) {
	t.Parallel()
	f := newFake("clock", nil)
	s := scanners.New(scanners.Options{Now: func() int64 { return 424242 }, Logger: slog.New(slog.DiscardHandler)},
		scanners.Scheduled{Reconciler: f, Interval: time.Millisecond})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.waitTicks(t, 1)
	shutdown(t, s)
	if now := <-f.nows; now != 424242 {
		t.Fatalf("tick got now = %d", now)
	}
	if st := statsOf(s, "clock"); st.LastTickMS != 424242 || st.Ticks < 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestSupervisorFailingTickCountedAndLoopContinues(t *testing.T) {
	t.Parallel()
	log, buf := testLogger(slog.LevelInfo)
	f := newFake("flaky", func(_ context.Context, n int64) (scanners.Report, error) {
		if n == 1 {
			return scanners.Report{Processed: 1, Errors: 2}, errors.New("disk on fire")
		}
		return scanners.Report{Processed: 3}, nil
	})
	s := scanners.New(scanners.Options{Logger: log}, scanners.Scheduled{Reconciler: f, Interval: time.Millisecond})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	f.waitTicks(t, 3)
	shutdown(t, s)
	st := statsOf(s, "flaky")
	n := uint64(f.done.Load())
	if st.Ticks != n || st.Failures != 1 || st.Errors != 3 || st.Processed != 1+3*(n-1) || st.Panics != 0 || st.Running {
		t.Fatalf("stats = %+v after %d ticks", st, n)
	}
	out := buf.String()
	if !strings.Contains(out, `level=WARN msg="sqlite reconciler tick failed" scanner=flaky error="disk on fire"`) {
		t.Errorf("no failure warning in %q", out)
	}
	if !strings.Contains(out, `level=INFO msg="sqlite reconciler tick" reconciler=flaky processed=3 errors=0 took=`) {
		t.Errorf("no tick line in %q", out)
	}
	if !strings.Contains(out, `msg="sqlite scanner supervisor spawned" scanners=1`) {
		t.Errorf("no spawn line in %q", out)
	}
}

func TestSupervisorIdleTicksLogAtDebug(t *testing.T) {
	t.Parallel()
	log, buf := testLogger(slog.LevelInfo)
	f := newFake("idle", nil)
	s := scanners.New(scanners.Options{Logger: log}, scanners.Scheduled{Reconciler: f, Interval: time.Hour})
	s.RunOnce(context.Background(), 1)
	if strings.Contains(buf.String(), "reconciler tick") {
		t.Fatalf("idle tick logged at INFO: %q", buf.String())
	}
	dlog, dbuf := testLogger(slog.LevelDebug)
	s = scanners.New(scanners.Options{Logger: dlog}, scanners.Scheduled{Reconciler: f, Interval: time.Hour})
	s.RunOnce(context.Background(), 1)
	if !strings.Contains(dbuf.String(), `level=DEBUG msg="sqlite reconciler tick" reconciler=idle processed=0 errors=0`) {
		t.Fatalf("idle tick at DEBUG: %q", dbuf.String())
	}
}

func TestSupervisorPanicDoesNotStopOthers(t *testing.T) {
	t.Parallel()
	log, buf := testLogger(slog.LevelInfo)
	bomb := newFake("bomb", func(context.Context, int64) (scanners.Report, error) { panic("kaboom") })
	good := newFake("good", func(context.Context, int64) (scanners.Report, error) { return scanners.Report{Processed: 1}, nil })
	s := scanners.New(scanners.Options{Logger: log},
		scanners.Scheduled{Reconciler: bomb, Interval: time.Millisecond},
		scanners.Scheduled{Reconciler: good, Interval: time.Millisecond})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	bomb.waitTicks(t, 3)
	good.waitTicks(t, 3)
	shutdown(t, s)
	st := statsOf(s, "bomb")
	if st.Panics < 3 || st.Failures != st.Panics || st.Errors != st.Panics {
		t.Fatalf("bomb stats = %+v", st)
	}
	if g := statsOf(s, "good"); g.Failures != 0 || g.Processed < 3 {
		t.Fatalf("good stats = %+v", g)
	}
	if !strings.Contains(buf.String(), `scanner=bomb error="panic: kaboom"`) {
		t.Errorf("no panic warning in %q", buf.String())
	}
	// RunOnce recovers too.
	reps := s.RunOnce(context.Background(), 1)
	var pe *scanners.PanicError
	if !errors.As(reps[0].Err, &pe) || reps[0].Errors != 1 || reps[1].Err != nil {
		t.Fatalf("RunOnce = %+v", reps)
	}
}

// Ticks never overlap, across reconcilers and with RunOnce.
func TestSupervisorOneTickAtATime(t *testing.T) {
	t.Parallel()
	var inTick, maxSeen atomic.Int64
	body := func(context.Context, int64) (scanners.Report, error) {
		n := inTick.Add(1)
		for {
			m := maxSeen.Load()
			if n <= m || maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		time.Sleep(50 * time.Microsecond) // widen the window for an overlap
		inTick.Add(-1)
		return scanners.Report{}, nil
	}
	var fakes []*fake
	var sc []scanners.Scheduled
	for _, name := range []string{"a", "b", "c", "d"} {
		f := newFake(name, body)
		fakes = append(fakes, f)
		sc = append(sc, scanners.Scheduled{Reconciler: f, Interval: time.Millisecond})
	}
	s := scanners.New(scanners.Options{Logger: slog.New(slog.DiscardHandler)}, sc...)
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		s.RunOnce(context.Background(), 1)
	}
	for _, f := range fakes {
		f.waitTicks(t, 20)
	}
	shutdown(t, s)
	if maxSeen.Load() != 1 {
		t.Fatalf("%d ticks ran at once", maxSeen.Load())
	}
}

func TestSupervisorShutdownIdle(t *testing.T) {
	t.Parallel()
	f := newFake("slow", nil)
	s := scanners.New(scanners.Options{Logger: slog.New(slog.DiscardHandler)}, scanners.Scheduled{Reconciler: f, Interval: time.Hour})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	start := time.Now()
	if late := s.Shutdown(ctx); late != nil {
		t.Fatalf("idle shutdown timed out: %v", late)
	}
	if time.Since(start) > time.Second {
		t.Fatalf("idle shutdown took %s", time.Since(start))
	}
	if f.n.Load() != 0 {
		t.Fatal("ticked before its first interval")
	}
	if late := s.Shutdown(ctx); late != nil {
		t.Fatalf("second shutdown = %v", late)
	}
	if err := s.Start(context.Background()); !errors.Is(err, scanners.ErrStarted) {
		t.Fatalf("restart = %v", err)
	}
	// A supervisor never started shuts down at once.
	if late := scanners.New(scanners.Options{}).Shutdown(ctx); late != nil {
		t.Fatal(late)
	}
}

// blocker's tick announces itself on entered and blocks until release is
// closed or its context is cancelled.
func blocker(entered chan<- struct{}, release <-chan struct{}) *fake {
	return newFake("blocker", func(ctx context.Context, n int64) (scanners.Report, error) {
		if n == 1 {
			entered <- struct{}{}
		}
		select {
		case <-release:
			return scanners.Report{Processed: 1}, nil
		case <-ctx.Done():
			return scanners.Report{}, ctx.Err()
		}
	})
}

// Shutdown waits for a running tick to finish within the grace period.
func TestSupervisorShutdownDrainsRunningTick(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}, 1), make(chan struct{})
	f := blocker(entered, release)
	s := scanners.New(scanners.Options{Logger: slog.New(slog.DiscardHandler)}, scanners.Scheduled{Reconciler: f, Interval: time.Millisecond})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-entered
	if !statsOf(s, "blocker").Running {
		t.Fatal("stats do not show the running tick")
	}
	done := make(chan []string)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
		defer cancel()
		done <- s.Shutdown(ctx)
	}()
	select {
	case late := <-done:
		t.Fatalf("Shutdown returned %v while a tick was running", late)
	case <-time.After(20 * time.Millisecond):
	}
	close(release)
	if late := <-done; late != nil {
		t.Fatalf("timed out: %v", late)
	}
	if st := statsOf(s, "blocker"); st.Ticks != 1 || st.Processed != 1 || st.Failures != 0 {
		t.Fatalf("the drained tick was not completed cleanly: %+v", st)
	}
}

// Past the grace period Shutdown names the unfinished reconciler and
// cancels its tick's context.
func TestSupervisorShutdownTimesOutMidTick(t *testing.T) {
	t.Parallel()
	log, buf := testLogger(slog.LevelInfo)
	entered := make(chan struct{}, 1)
	f := blocker(entered, make(chan struct{}))
	idle := newFake("idle", nil)
	s := scanners.New(scanners.Options{Logger: log},
		scanners.Scheduled{Reconciler: f, Interval: time.Millisecond},
		scanners.Scheduled{Reconciler: idle, Interval: time.Hour})
	if err := s.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-entered
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // no grace at all
	if late := s.Shutdown(ctx); !slices.Equal(late, []string{"blocker"}) {
		t.Fatalf("timed out = %v, want [blocker]", late)
	}
	if !strings.Contains(buf.String(), `msg="sqlite scanner supervisor exceeded grace on shutdown" timed_out=1`) {
		t.Errorf("no grace warning: %q", buf.String())
	}
	// The aborted tick sees its context cancelled and the loop ends.
	f.waitTicks(t, 1)
	shutdown(t, s)
	if st := statsOf(s, "blocker"); st.Failures != 1 {
		t.Fatalf("aborted tick stats = %+v", st)
	}
}

// Cancelling Start's context stops the loops; Shutdown then returns at
// once, and a tick in progress is not cancelled by it.
func TestSupervisorStartContextStops(t *testing.T) {
	t.Parallel()
	entered, release := make(chan struct{}, 1), make(chan struct{})
	f := blocker(entered, release)
	s := scanners.New(scanners.Options{Logger: slog.New(slog.DiscardHandler)}, scanners.Scheduled{Reconciler: f, Interval: time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Start(ctx); err != nil {
		t.Fatal(err)
	}
	<-entered
	cancel()
	close(release)
	shutdown(t, s)
	if st := statsOf(s, "blocker"); st.Failures != 0 || st.Processed < 1 {
		t.Fatalf("the running tick was cancelled with Start's context: %+v", st)
	}
}

func TestRunOnce(t *testing.T) {
	t.Parallel()
	a := newFake("a", func(context.Context, int64) (scanners.Report, error) { return scanners.Report{Processed: 2}, nil })
	b := newFake("b", func(context.Context, int64) (scanners.Report, error) {
		return scanners.Report{Processed: 1, Errors: 1}, errors.New("boom")
	})
	s := scanners.New(scanners.Options{Logger: slog.New(slog.DiscardHandler)},
		scanners.Scheduled{Reconciler: a, Interval: time.Hour}, scanners.Scheduled{Reconciler: b, Interval: time.Hour})
	reps := s.RunOnce(context.Background(), 99)
	if len(reps) != 2 || reps[0].Reconciler != "a" || reps[0].Processed != 2 || reps[0].Err != nil ||
		reps[1].Reconciler != "b" || reps[1].Errors != 2 || reps[1].Err == nil || reps[0].Took <= 0 {
		t.Fatalf("reports = %+v", reps)
	}
	if <-a.nows != 99 {
		t.Fatal("RunOnce did not pass its now")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	// A cancelled context runs nothing and reports its error.
	reps = s.RunOnce(ctx, 1)
	if len(reps) != 2 || !errors.Is(reps[0].Err, context.Canceled) || reps[1].Errors != 1 || a.n.Load() != 1 || b.n.Load() != 1 {
		t.Fatalf("reports = %+v", reps)
	}
}
