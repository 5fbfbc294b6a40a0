package inspect

import (
	"context"
	"database/sql"

	"github.com/ffsqlite/ffsqlite/migrate"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

// DriftReport compares the file's schema with what the embedded migrations
// produce when replayed into a private in-memory database.
type DriftReport struct {
	Drift bool `json:"drift"`
	// Differences lists each difference in schema_diff.py's wording
	// ("missing table T (N columns)", "table T: extra column x ...");
	// empty (never null) when there is no drift.
	Differences    []string `json:"differences"`
	ExpectedTables int      `json:"expected_tables"`
	ActualTables   int      `json:"actual_tables"`
	// Report is the readable diff (schema_diff.py's layout, ending with the
	// "schema parity: …" line).
	Report string `json:"-"`
}

// Drift replays the embedded migrations into memory and diffs their schema
// facts against db's. Migration bookkeeping tables are ignored, so a
// database created by upstream's runner compares equal when its schema is.
func Drift(ctx context.Context, db *sql.DB) (*DriftReport, error) {
	want, err := migrate.ExpectedFacts(ctx)
	if err != nil {
		return nil, err
	}
	got, err := schemafacts.Collect(ctx, db)
	if err != nil {
		return nil, err
	}
	d := &DriftReport{Differences: schemafacts.Diff(want, got), ExpectedTables: len(want.Tables), ActualTables: len(got.Tables)}
	if d.Differences == nil {
		d.Differences = []string{}
	}
	d.Drift = len(d.Differences) > 0
	d.Report, _ = schemafacts.Report(want, got)
	return d, nil
}
