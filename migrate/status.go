package migrate

import (
	"context"
	"fmt"
	"time"
)

// Status is one migration's state in a database, in both ledgers.
type Status struct {
	Version int64  `json:"version"`
	Name    string `json:"name"`
	// State is "applied" or "pending" by the governing ledger.
	State string `json:"state"`
	// AppliedAt is when goose recorded it (zero when pending or not
	// recorded by goose).
	AppliedAt time.Time `json:"-"`
	// AppliedAtMS is AppliedAt in Unix milliseconds, null when unknown.
	AppliedAtMS *int64 `json:"applied_at_ms"`
	// Goose is "applied" or "pending" in goose_db_version ("-" without it).
	Goose string `json:"goose"`
	// Upstream is the version's row in _sqlx_migrations: "recorded",
	// "missing", "dirty" or "checksum_mismatch" ("-" without the table).
	Upstream string `json:"upstream"`
}

// Report is the whole status of a database.
type Report struct {
	Ledger     Ledger   `json:"ledger"`
	Current    int64    `json:"current_version"`
	Latest     int64    `json:"latest_version"`
	Pending    int      `json:"pending"`
	Migrations []Status `json:"migrations"`
	// Upstream is how upstream FlowFabric's own backend sees the file.
	Upstream UpstreamView `json:"upstream"`
	// Note says what to do when the ledgers need attention; empty
	// otherwise.
	Note string `json:"note,omitempty"`
}

// Status reports every embedded migration's state in both ledgers. It
// only reads, so it works over a read-only backend.
func (m *Migrator) Status(ctx context.Context) (*Report, error) {
	srcs, err := embedded()
	if err != nil {
		return nil, err
	}
	l, err := ReadLedgers(ctx, m.db)
	if err != nil {
		return nil, err
	}
	appliedAt := map[int64]time.Time{}
	if l.Goose {
		if appliedAt, err = gooseAppliedAt(ctx, m.db); err != nil {
			return nil, err
		}
	}
	rep := &Report{Ledger: l.Kind, Current: l.Version(), Latest: srcs[len(srcs)-1].Version, Upstream: l.Upstream(),
		Note: l.Note()}
	pending := l.Pending()
	rep.Pending = len(pending)
	for _, s := range srcs {
		st := Status{Version: s.Version, Name: s.Name, State: "applied", Goose: "-", Upstream: "-"}
		for _, p := range pending {
			if p == s.Version {
				st.State = "pending"
			}
		}
		if l.Goose {
			st.Goose = "pending"
			for _, v := range l.GooseApplied {
				if v == s.Version {
					st.Goose = "applied"
				}
			}
		}
		if l.Sqlx {
			st.Upstream = l.RowState(s.Version)
		}
		if at, ok := appliedAt[s.Version]; ok && st.Goose == "applied" {
			ms := at.UnixMilli()
			st.AppliedAt, st.AppliedAtMS = at, &ms
		}
		rep.Migrations = append(rep.Migrations, st)
	}
	return rep, nil
}

// gooseAppliedAt reads when goose recorded each version (the newest row
// per version).
func gooseAppliedAt(ctx context.Context, db Querier) (map[int64]time.Time, error) {
	rows, err := db.QueryContext(ctx, "SELECT version_id, tstamp FROM "+VersionTable+" ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", VersionTable, err)
	}
	defer rows.Close()
	out := map[int64]time.Time{}
	for rows.Next() {
		var v int64
		var at time.Time
		if err := rows.Scan(&v, &at); err != nil {
			return nil, fmt.Errorf("read %s: %w", VersionTable, err)
		}
		out[v] = at
	}
	return out, rows.Err()
}

// Note says, in one line, what the ledgers need (empty when nothing):
// shared by `migrate status` and `inspect` so both say the same.
func (l *Ledgers) Note() string {
	u := l.Upstream()
	switch {
	case l.Kind == LedgerUpstream && !u.Agrees:
		return "created by FlowFabric's own migration runner (_sqlx_migrations), which refuses it: " + u.Reason
	case l.Kind == LedgerUpstream:
		return "created by FlowFabric's own migration runner (_sqlx_migrations); `ffsqlite migrate adopt` hands it to ffsqlite"
	case l.Kind == LedgerNone && l.EngineTables:
		return "engine tables without a migration ledger"
	case !u.WouldOpen && u.Reason != "":
		return "upstream's backend would not open this file: " + u.Reason
	}
	return ""
}
