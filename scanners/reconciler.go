package scanners

import (
	"context"
	"slices"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// Reconciler is one background scan. Tick processes at most one bounded
// batch of rows due at nowMS (Unix milliseconds) and reports what it did.
// It must be safe to run concurrently with the engine and with another
// process writing the same file: every change it makes goes through the
// backend's BEGIN IMMEDIATE transactions.
type Reconciler interface {
	Name() string
	Tick(ctx context.Context, nowMS int64) (Report, error)
}

// Report is what one tick did. Processed counts rows changed; Errors counts
// rows that failed (and, when the supervisor reports it, 1 more for a tick
// that failed or panicked as a whole, whose error is then in Err). Took is
// the tick's wall time, filled in by the supervisor.
type Report struct {
	Reconciler string        `json:"reconciler"`
	Processed  int           `json:"processed"`
	Errors     int           `json:"errors"`
	Took       time.Duration `json:"took_ns"`
	Err        error         `json:"-"`
}

// SweepFunc is the shape of the backend's reconciler entry points:
// process up to limit rows due at nowMS.
type SweepFunc func(ctx context.Context, nowMS int64, limit int) (backend.SweepReport, error)

// NewSweep adapts a SweepFunc into a Reconciler named name that processes
// batch rows per tick.
func NewSweep(name string, batch int, fn SweepFunc) Reconciler {
	return &sweep{name: name, batch: batch, fn: fn}
}

type sweep struct {
	name  string
	batch int
	fn    SweepFunc
}

func (s *sweep) Name() string { return s.name }

func (s *sweep) Tick(ctx context.Context, nowMS int64) (Report, error) {
	r, err := s.fn(ctx, nowMS, s.batch)
	return Report{Reconciler: s.name, Processed: r.Processed, Errors: r.Errors}, err
}

// BackendSweep is a backend reconciler entry point as a method
// expression, (*backend.Backend).ExpireLeases for instance: one batch of
// at most limit rows due at nowMS.
type BackendSweep func(b *backend.Backend, ctx context.Context, nowMS int64, limit int) (backend.SweepReport, error)

// Definition describes one kind of reconciler, a row of the table
// (table.go): its name (the `scan` and `serve` flag and the --only value),
// its default cadence and the environment variable that overrides it, its
// batch size and the backend call that does one batch.
type Definition struct {
	// Name is the reconciler's name, e.g. "budget-reset".
	Name string
	// Summary is one line for help output.
	Summary string
	// Default is the interval used when neither a flag nor Env sets one.
	Default time.Duration
	// Env is the variable that sets the interval ("" for none), read as an
	// unsigned integer count of EnvUnit; 0 disables.
	Env     string
	EnvUnit time.Duration
	// Batch is how many rows one tick processes at most.
	Batch int
	// Sweep is the backend call that processes one batch.
	Sweep BackendSweep
}

// Build returns the reconciler on b: Sweep with Batch rows per tick.
func (d Definition) Build(b *backend.Backend) Reconciler {
	return NewSweep(d.Name, d.Batch, func(ctx context.Context, nowMS int64, limit int) (backend.SweepReport, error) {
		return d.Sweep(b, ctx, nowMS, limit)
	})
}

// Definitions returns every known reconciler in run order.
func Definitions() []Definition { return slices.Clone(table) }

// Names returns every known reconciler's name in run order.
func Names() []string {
	names := make([]string, len(table))
	for i, d := range table {
		names[i] = d.Name
	}
	return names
}

// Lookup returns the definition named name.
func Lookup(name string) (Definition, bool) {
	for _, d := range table {
		if d.Name == name {
			return d, true
		}
	}
	return Definition{}, false
}
