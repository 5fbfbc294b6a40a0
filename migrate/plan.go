package migrate

import (
	"context"
	"fmt"
	"slices"
)

// Step is one migration a command would run, with its SQL.
type Step struct {
	Version   int64  `json:"version"`
	Name      string `json:"name"`
	Direction string `json:"direction"`
	SQL       string `json:"sql"`
}

// PlanUp lists the pending migrations up to target (0 = all), in order,
// without running anything: the --dry-run of up, up-by-one and up-to.
func (m *Migrator) PlanUp(ctx context.Context, target int64, limit int) ([]Step, error) {
	rep, srcs, err := m.planInputs(ctx)
	if err != nil {
		return nil, err
	}
	var steps []Step
	for i, st := range rep.Migrations {
		if st.State != "pending" || (target > 0 && st.Version > target) {
			continue
		}
		steps = append(steps, Step{Version: st.Version, Name: st.Name, Direction: "up", SQL: srcs[i].Up})
		if limit > 0 && len(steps) == limit {
			break
		}
	}
	return steps, nil
}

// PlanDown lists, newest first, the applied migrations that a rollback to
// target would undo (limit 1 for a plain down), without running anything.
func (m *Migrator) PlanDown(ctx context.Context, target int64, limit int) ([]Step, error) {
	rep, srcs, err := m.planInputs(ctx)
	if err != nil {
		return nil, err
	}
	var steps []Step
	for i := len(rep.Migrations) - 1; i >= 0; i-- {
		st := rep.Migrations[i]
		if st.State != "applied" || st.Version <= target {
			continue
		}
		steps = append(steps, Step{Version: st.Version, Name: st.Name, Direction: "down", SQL: srcs[i].Down})
		if limit > 0 && len(steps) == limit {
			break
		}
	}
	return steps, nil
}

// planInputs is what a plan reads: the status (rows in the same order as
// the sources) and the parsed sources. Upstream-ledger databases refuse.
func (m *Migrator) planInputs(ctx context.Context) (*Report, []Source, error) {
	if _, err := m.guard(ctx); err != nil {
		return nil, nil, err
	}
	rep, err := m.Status(ctx)
	if err != nil {
		return nil, nil, err
	}
	srcs, err := embedded()
	return rep, srcs, err
}

// Validate parses every embedded migration and checks that versions are
// unique and ascending and that each has both directions.
func Validate() ([]Source, error) {
	srcs, err := embedded()
	if err != nil {
		return nil, err
	}
	seen := map[int64]bool{}
	for _, s := range srcs {
		if seen[s.Version] {
			return srcs, fmt.Errorf("migration version %d appears twice", s.Version)
		}
		seen[s.Version] = true
		if s.Up == "" {
			return srcs, fmt.Errorf("migration %s has an empty Up section", s.Name)
		}
		if s.Down == "" {
			return srcs, fmt.Errorf("migration %s has no Down section", s.Name)
		}
	}
	if !slices.IsSortedFunc(srcs, func(a, b Source) int { return int(a.Version - b.Version) }) {
		return srcs, fmt.Errorf("migrations are not in version order")
	}
	return srcs, nil
}
