package inspect

import (
	"context"
	"database/sql"
	"strconv"
	"strings"

	"github.com/ffsqlite/ffsqlite/migrate"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

// DriftReport compares the file's schema with what the embedded migrations
// produce when replayed into a private in-memory database.
type DriftReport struct {
	// Drift is set when the schema differs or the two migration ledgers
	// disagree.
	Drift bool `json:"drift"`
	// Differences lists each difference in schema_diff.py's wording
	// ("missing table T (N columns)", "table T: extra column x ...");
	// empty (never null) when there is no drift.
	Differences []string `json:"differences"`
	// LedgerDifferences lists, in one line each, how goose_db_version
	// and upstream's _sqlx_migrations disagree (or why upstream's runner
	// refuses its ledger); empty (never null) when they agree.
	// _sqlx_migrations is bookkeeping: it never counts as schema.
	LedgerDifferences []string `json:"ledger_differences"`
	ExpectedTables    int      `json:"expected_tables"`
	ActualTables      int      `json:"actual_tables"`
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
	if d.LedgerDifferences, err = ledgerDifferences(ctx, db); err != nil {
		return nil, err
	}
	d.Drift = len(d.Differences) > 0 || len(d.LedgerDifferences) > 0
	d.Report, _ = schemafacts.Report(want, got)
	if len(d.LedgerDifferences) > 0 {
		d.Report += "\nmigration ledgers disagree:\n  " + strings.Join(d.LedgerDifferences, "\n  ") + "\n"
	}
	return d, nil
}

// ledgerDifferences compares goose's ledger with upstream's, the way
// upstream's runner would read the latter. A file with only one ledger
// has nothing to disagree with.
func ledgerDifferences(ctx context.Context, db *sql.DB) ([]string, error) {
	l, err := migrate.ReadLedgers(ctx, db)
	if err != nil {
		return nil, err
	}
	out := []string{}
	if !l.Goose {
		return out, nil
	}
	u := l.Upstream()
	if err := l.CheckSqlx(); err != nil {
		out = append(out, err.Error())
	}
	if len(u.Missing) > 0 {
		out = append(out, "goose_db_version records version(s) "+joinInts(u.Missing)+" that _sqlx_migrations does not (run `ffsqlite migrate up` to record them)")
	}
	if len(u.Extra) > 0 {
		out = append(out, "_sqlx_migrations records version(s) "+joinInts(u.Extra)+" that goose_db_version does not (run `ffsqlite migrate adopt` to record them)")
	}
	return out, nil
}

func joinInts(vs []int64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(s, ", ")
}
