package scanners

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// Log messages. The first two are upstream's verbatim texts.
const (
	MsgSpawned       = "sqlite scanner supervisor spawned"
	MsgTickFailed    = "sqlite reconciler tick failed"
	MsgTick          = "sqlite reconciler tick"
	MsgGraceExceeded = "sqlite scanner supervisor exceeded grace on shutdown"
)

// ErrStarted is returned by Start on a supervisor already started (or
// shut down): a supervisor runs once.
var ErrStarted = errors.New("scanner supervisor already started")

// PanicError is a tick that panicked; the supervisor recovered it.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Options tunes a Supervisor.
type Options struct {
	// Logger receives the per-tick lines and warnings; slog.Default()
	// when nil.
	Logger *slog.Logger
	// Now is the clock whose Unix-millisecond value each scheduled tick
	// receives; time.Now when nil. ForBackend uses the backend's clock.
	Now func() int64
}

// Scheduled pairs a reconciler with its interval; 0 disables it.
type Scheduled struct {
	Reconciler Reconciler
	Interval   time.Duration
}

// Stats is a snapshot of one reconciler's counters since New.
type Stats struct {
	Reconciler string        `json:"reconciler"`
	Interval   time.Duration `json:"interval_ns"`
	Ticks      uint64        `json:"ticks"`     // ticks run, failed ones included
	Processed  uint64        `json:"processed"` // rows changed
	Errors     uint64        `json:"errors"`    // failed rows + failed ticks
	Failures   uint64        `json:"failures"`  // ticks that returned an error or panicked
	Panics     uint64        `json:"panics"`
	LastTickMS int64         `json:"last_tick_ms"` // the now of the last tick, 0 before any
	LastTook   time.Duration `json:"last_took_ns"`
	Running    bool          `json:"running"` // a tick is in progress
}

type entry struct {
	rec      Reconciler
	name     string
	interval time.Duration

	mu     sync.Mutex // guards the counters below
	st     Stats
	exited atomic.Bool
}

// Supervisor runs reconcilers on their cadences, one tick at a time.
//
// Logging: every tick logs MsgTick with reconciler, processed, errors and
// took; at INFO when it changed or failed something, at DEBUG when it was
// idle (processed == 0 and errors == 0), so an idle dev server stays
// quiet at the default level. A failing tick also logs WARN MsgTickFailed
// with scanner and error; a panic is recovered and reported the same way
// (its stack at DEBUG). Neither stops the loop, and there is no backoff.
type Supervisor struct {
	log     *slog.Logger
	now     func() int64
	entries []*entry

	sem chan struct{} // the database slot: one tick at a time

	mu       sync.Mutex
	started  bool
	stop     chan struct{}
	stopOnce sync.Once
	abort    context.CancelFunc
	tickCtx  context.Context
	wg       sync.WaitGroup
}

// New returns a supervisor for the given reconcilers; those with a zero
// (or negative) interval are disabled: never started, not run by RunOnce
// and absent from Stats.
func New(opts Options, scheduled ...Scheduled) *Supervisor {
	s := &Supervisor{log: opts.Logger, now: opts.Now, sem: make(chan struct{}, 1), stop: make(chan struct{})}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = func() int64 { return time.Now().UnixMilli() }
	}
	for _, sc := range scheduled {
		if sc.Interval <= 0 || sc.Reconciler == nil {
			continue
		}
		name := sc.Reconciler.Name()
		e := &entry{rec: sc.Reconciler, name: name, interval: sc.Interval}
		e.st = Stats{Reconciler: name, Interval: sc.Interval}
		s.entries = append(s.entries, e)
	}
	return s
}

// ForBackend builds the supervisor of every reconciler cfg enables, on b,
// in run order. Options default to b's logger and clock.
func ForBackend(b *backend.Backend, cfg Config, opts Options) (*Supervisor, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if opts.Logger == nil {
		opts.Logger = b.Logger()
	}
	if opts.Now == nil {
		opts.Now = b.Now
	}
	var sc []Scheduled
	for _, d := range Definitions() {
		if iv := cfg.Interval(d.Name); iv > 0 {
			sc = append(sc, Scheduled{Reconciler: d.Build(b), Interval: iv})
		}
	}
	return New(opts, sc...), nil
}

// Names returns the enabled reconcilers' names in run order.
func (s *Supervisor) Names() []string {
	out := make([]string, len(s.entries))
	for i, e := range s.entries {
		out[i] = e.name
	}
	return out
}

// Start launches one loop per enabled reconciler; each first ticks one
// interval after Start. Cancelling ctx stops the loops as Shutdown does
// (a running tick still finishes: ticks run under a context that only
// Shutdown's deadline cancels); call Shutdown to wait for them.
func (s *Supervisor) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started {
		return ErrStarted
	}
	s.started = true
	s.tickCtx, s.abort = context.WithCancel(context.WithoutCancel(ctx))
	for _, e := range s.entries {
		s.wg.Add(1)
		go s.loop(e)
	}
	go func() {
		select {
		case <-ctx.Done():
			s.signalStop()
		case <-s.stop:
		}
	}()
	s.log.Info(MsgSpawned, "scanners", len(s.entries), "reconcilers", s.Names())
	return nil
}

func (s *Supervisor) signalStop() { s.stopOnce.Do(func() { close(s.stop) }) }

func (s *Supervisor) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

func (s *Supervisor) loop(e *entry) {
	defer s.wg.Done()
	defer e.exited.Store(true)
	t := time.NewTicker(e.interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if !s.acquire(s.stop, nil) {
			return
		}
		if s.stopping() { // both were ready and select picked the slot
			s.release()
			return
		}
		s.runTick(s.tickCtx, e, s.now())
		s.release()
	}
}

// acquire takes the database slot, or gives up when stop or done closes.
func (s *Supervisor) acquire(stop <-chan struct{}, done <-chan struct{}) bool {
	select {
	case s.sem <- struct{}{}:
		return true
	case <-stop:
		return false
	case <-done:
		return false
	}
}

func (s *Supervisor) release() { <-s.sem }

// RunOnce runs one tick of every enabled reconciler at nowMS, in run
// order, one at a time (waiting for a scheduled tick in progress), and
// returns their reports. It works whether or not the supervisor is
// started. A reconciler reached after ctx is done reports ctx's error.
func (s *Supervisor) RunOnce(ctx context.Context, nowMS int64) []Report {
	reps := make([]Report, 0, len(s.entries))
	for _, e := range s.entries {
		if ctx.Err() != nil || !s.acquire(nil, ctx.Done()) {
			reps = append(reps, Report{Reconciler: e.name, Errors: 1, Err: ctx.Err()})
			continue
		}
		reps = append(reps, s.runTick(ctx, e, nowMS))
		s.release()
	}
	return reps
}

// runTick runs one tick with panic recovery, then logs and counts it.
func (s *Supervisor) runTick(ctx context.Context, e *entry, nowMS int64) Report {
	e.mu.Lock()
	e.st.Running = true
	e.mu.Unlock()
	start := time.Now()
	rep, err := safeTick(ctx, e.rec, nowMS)
	rep.Reconciler = e.name
	rep.Took = time.Since(start)
	var pe *PanicError
	panicked := errors.As(err, &pe)
	if err != nil {
		rep.Err = err
		rep.Errors++
		s.log.Warn(MsgTickFailed, "scanner", e.name, "error", err.Error())
		if panicked {
			s.log.Debug("sqlite reconciler tick panic stack", "scanner", e.name, "stack", string(pe.Stack))
		}
	}
	level := slog.LevelDebug
	if rep.Processed > 0 || rep.Errors > 0 {
		level = slog.LevelInfo
	}
	s.log.Log(context.WithoutCancel(ctx), level, MsgTick,
		"reconciler", e.name, "processed", rep.Processed, "errors", rep.Errors, "took", rep.Took)

	e.mu.Lock()
	e.st.Ticks++
	e.st.Processed += uint64(max(rep.Processed, 0))
	e.st.Errors += uint64(max(rep.Errors, 0))
	if err != nil {
		e.st.Failures++
	}
	if panicked {
		e.st.Panics++
	}
	e.st.LastTickMS = nowMS
	e.st.LastTook = rep.Took
	e.st.Running = false
	e.mu.Unlock()
	return rep
}

func safeTick(ctx context.Context, r Reconciler, nowMS int64) (rep Report, err error) {
	defer func() {
		if v := recover(); v != nil {
			rep = Report{}
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	return r.Tick(ctx, nowMS)
}

// Stats returns a snapshot of every enabled reconciler's counters, in run
// order.
func (s *Supervisor) Stats() []Stats {
	out := make([]Stats, len(s.entries))
	for i, e := range s.entries {
		e.mu.Lock()
		out[i] = e.st
		e.mu.Unlock()
	}
	return out
}

// Shutdown stops the loops and waits for running ticks until ctx is done.
// It returns the names of the reconcilers whose tick was still running by
// then (their tick context is cancelled so they can stop at the next
// statement; a tick is never cut off mid-transaction by Shutdown itself;
// idle loops exit on their own),
// and logs WARN MsgGraceExceeded when there are any. A supervisor never
// started, or already shut down, returns nil at once. Shutdown is
// idempotent.
func (s *Supervisor) Shutdown(ctx context.Context) (timedOut []string) {
	s.mu.Lock()
	started := s.started
	s.started = true // a supervisor cannot start after Shutdown
	s.mu.Unlock()
	s.signalStop()
	if !started {
		return nil
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		s.abort()
		return nil
	case <-ctx.Done():
	}
	s.abort()
	for _, e := range s.entries {
		e.mu.Lock()
		busy := e.st.Running
		e.mu.Unlock()
		if busy && !e.exited.Load() {
			timedOut = append(timedOut, e.name)
		}
	}
	slices.Sort(timedOut)
	if len(timedOut) > 0 {
		s.log.Warn(MsgGraceExceeded, "timed_out", len(timedOut), "reconcilers", timedOut)
	}
	return timedOut
}
