package migrate

import (
	"context"
	"time"

	"github.com/pressly/goose/v3"
)

// Status is one migration's state in a database.
type Status struct {
	Version int64  `json:"version"`
	Name    string `json:"name"`
	// State is "applied" or "pending".
	State string `json:"state"`
	// AppliedAt is when goose recorded it (zero when pending).
	AppliedAt time.Time `json:"-"`
	// AppliedAtMS is AppliedAt in Unix milliseconds, null when pending.
	AppliedAtMS *int64 `json:"applied_at_ms"`
}

// Report is the whole status of a database.
type Report struct {
	Ledger     Ledger   `json:"ledger"`
	Current    int64    `json:"current_version"`
	Latest     int64    `json:"latest_version"`
	Pending    int      `json:"pending"`
	Migrations []Status `json:"migrations"`
}

// Status reports every embedded migration's state. On a database created
// by upstream's runner every migration reads pending and Ledger says why.
func (m *Migrator) Status(ctx context.Context) (*Report, error) {
	srcs, err := embedded()
	if err != nil {
		return nil, err
	}
	ledger, err := DetectLedger(ctx, m.db)
	if err != nil {
		return nil, err
	}
	rep := &Report{Ledger: ledger, Latest: srcs[len(srcs)-1].Version}
	applied := map[int64]time.Time{}
	if ledger == LedgerGoose {
		sts, err := m.p.Status(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range sts {
			if s.State == goose.StateApplied {
				applied[s.Source.Version] = s.AppliedAt
			}
		}
		if rep.Current, err = m.p.GetDBVersion(ctx); err != nil {
			return nil, err
		}
	}
	for _, s := range srcs {
		st := Status{Version: s.Version, Name: s.Name, State: string(goose.StatePending)}
		if at, ok := applied[s.Version]; ok {
			ms := at.UnixMilli()
			st.State, st.AppliedAt, st.AppliedAtMS = string(goose.StateApplied), at, &ms
		} else {
			rep.Pending++
		}
		rep.Migrations = append(rep.Migrations, st)
	}
	return rep, nil
}
