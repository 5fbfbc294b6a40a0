package scanners

import (
	"context"
	"fmt"
	"slices"
	"sync"
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

// Definition describes one kind of reconciler: its name (the `scan` flag
// and `--only` value), its default cadence and the environment variable
// that overrides it, its batch size and how to build it on a backend.
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
	// New builds the reconciler on b.
	New func(b *backend.Backend, batch int) Reconciler

	order int
}

var registry = struct {
	sync.Mutex
	defs []Definition
}{}

// register adds a definition; each reconciler file calls it from init.
// order fixes the run and display order.
func register(order int, d Definition) {
	registry.Lock()
	defer registry.Unlock()
	for _, o := range registry.defs {
		if o.Name == d.Name {
			panic(fmt.Sprintf("scanners: reconciler %q registered twice", d.Name))
		}
	}
	d.order = order
	registry.defs = append(registry.defs, d)
	slices.SortStableFunc(registry.defs, func(a, b Definition) int { return a.order - b.order })
}

// Definitions returns every known reconciler in run order.
func Definitions() []Definition {
	registry.Lock()
	defer registry.Unlock()
	return slices.Clone(registry.defs)
}

// Names returns every known reconciler's name in run order.
func Names() []string {
	defs := Definitions()
	names := make([]string, len(defs))
	for i, d := range defs {
		names[i] = d.Name
	}
	return names
}

// Lookup returns the definition named name.
func Lookup(name string) (Definition, bool) {
	for _, d := range Definitions() {
		if d.Name == name {
			return d, true
		}
	}
	return Definition{}, false
}
