package migrate

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/ffsqlite/ffsqlite/migrations"
)

// SqlxTable is upstream FlowFabric's migration ledger, written by its sqlx
// runner (../shared/spec/sqlx-ledger.md).
const SqlxTable = "_sqlx_migrations"

// sqlxCreateTable creates the ledger with the columns upstream's runner
// creates it with, so either side can be first.
const sqlxCreateTable = `CREATE TABLE IF NOT EXISTS _sqlx_migrations (
    version BIGINT PRIMARY KEY,
    description TEXT NOT NULL,
    installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,
    success BOOLEAN NOT NULL,
    checksum BLOB NOT NULL,
    execution_time BIGINT NOT NULL
)`

// sqlxInsert records version v as applied, as upstream's runner does after
// applying it: its description and checksum, success = 1. installed_on
// takes the column default; execution_time is 0 (the runner records
// nanoseconds and never reads them back).
const sqlxInsert = `INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
VALUES (?, ?, 1, ?, 0)`

const sqlxDelete = `DELETE FROM _sqlx_migrations WHERE version = ?`

// SqlxRow is one row of _sqlx_migrations.
type SqlxRow struct {
	Version       int64  `json:"version"`
	Description   string `json:"description"`
	Success       bool   `json:"success"`
	Checksum      []byte `json:"-"`
	InstalledOn   string `json:"installed_on"`
	ExecutionTime int64  `json:"execution_time"`
}

func readSqlxRows(ctx context.Context, db Querier) ([]SqlxRow, error) {
	rows, err := db.QueryContext(ctx, `SELECT version, description, success, checksum,
		CAST(installed_on AS TEXT), execution_time FROM _sqlx_migrations ORDER BY version`)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", SqlxTable, err)
	}
	defer rows.Close()
	out := []SqlxRow{}
	for rows.Next() {
		var r SqlxRow
		if err := rows.Scan(&r.Version, &r.Description, &r.Success, &r.Checksum, &r.InstalledOn, &r.ExecutionTime); err != nil {
			return nil, fmt.Errorf("read %s: %w", SqlxTable, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read %s: %w", SqlxTable, err)
	}
	return out, nil
}

// sqlxRecorded lists the versions with a successful row, ascending.
func (l *Ledgers) sqlxRecorded() []int64 {
	out := []int64{}
	for _, r := range l.SqlxRows {
		if r.Success {
			out = append(out, r.Version)
		}
	}
	return out
}

// Reasons upstream's runner refuses a ledger, in the order it checks them.
const (
	// RefusedDirty: a row with success = 0 (sqlx's Dirty(version)).
	RefusedDirty = "dirty"
	// RefusedUnknownVersion: a row for a version upstream does not ship
	// (sqlx's VersionMissing).
	RefusedUnknownVersion = "unknown_version"
	// RefusedChecksum: a row whose checksum is not upstream's (sqlx's
	// VersionMismatch).
	RefusedChecksum = "checksum_mismatch"
)

// UpstreamLedgerError is upstream's runner refusing the _sqlx_migrations
// ledger: upstream's backend would not open the file.
type UpstreamLedgerError struct {
	Version int64
	// Reason is RefusedDirty, RefusedUnknownVersion or RefusedChecksum.
	Reason string
}

func (e *UpstreamLedgerError) Error() string {
	switch e.Reason {
	case RefusedDirty:
		return fmt.Sprintf("_sqlx_migrations: version %d is dirty (success = 0): upstream's runner refuses the file (Dirty(%d))", e.Version, e.Version)
	case RefusedUnknownVersion:
		return fmt.Sprintf("_sqlx_migrations: version %d is not an upstream migration: upstream's runner refuses the file (VersionMissing(%d))", e.Version, e.Version)
	}
	return fmt.Sprintf("_sqlx_migrations: version %d has a checksum that is not upstream's: upstream's runner refuses the file (VersionMismatch(%d))", e.Version, e.Version)
}

// CheckSqlx verifies the _sqlx_migrations rows as upstream's runner does
// before it applies anything: a dirty row first, then a version upstream
// does not ship, then a checksum that differs from upstream's, each in
// version order. nil means the runner accepts the ledger.
func (l *Ledgers) CheckSqlx() *UpstreamLedgerError {
	for _, r := range l.SqlxRows {
		if !r.Success {
			return &UpstreamLedgerError{Version: r.Version, Reason: RefusedDirty}
		}
	}
	for _, r := range l.SqlxRows {
		if _, ok := migrations.UpstreamVersion(r.Version); !ok {
			return &UpstreamLedgerError{Version: r.Version, Reason: RefusedUnknownVersion}
		}
	}
	for _, r := range l.SqlxRows {
		if m, _ := migrations.UpstreamVersion(r.Version); !bytes.Equal(m.Checksum, r.Checksum) {
			return &UpstreamLedgerError{Version: r.Version, Reason: RefusedChecksum}
		}
	}
	return nil
}

// RowState is one version's state in _sqlx_migrations: "recorded",
// "missing" (no row), or one of the refusal reasons.
func (l *Ledgers) RowState(v int64) string {
	for _, r := range l.SqlxRows {
		if r.Version != v {
			continue
		}
		if !r.Success {
			return RefusedDirty
		}
		if m, ok := migrations.UpstreamVersion(v); !ok {
			return RefusedUnknownVersion
		} else if !bytes.Equal(m.Checksum, r.Checksum) {
			return RefusedChecksum
		}
		return "recorded"
	}
	return "missing"
}

// UpstreamView is how upstream's own backend sees the file: whether its
// runner accepts the ledger, what it would apply, and whether the two
// ledgers agree.
type UpstreamView struct {
	// Present reports whether _sqlx_migrations exists.
	Present bool `json:"present"`
	// Recorded lists the versions with a successful row.
	Recorded []int64 `json:"recorded"`
	// Unknown lists row versions upstream does not ship.
	Unknown []int64 `json:"unknown_versions"`
	// WouldApply lists the upstream versions the runner would apply when
	// it opens the file (none when it refuses the ledger).
	WouldApply []int64 `json:"would_apply"`
	// WouldOpen says whether upstream's backend would open the file as
	// it is; Reason says why not.
	WouldOpen bool   `json:"would_open"`
	Reason    string `json:"reason,omitempty"`
	// Agrees says the ledgers record the same versions and the upstream
	// one is accepted (always true without a goose ledger). Missing lists
	// goose-applied versions with no row; Extra rows for versions goose
	// has not applied.
	Agrees  bool    `json:"ledgers_agree"`
	Missing []int64 `json:"missing"`
	Extra   []int64 `json:"extra"`
}

// Upstream computes the UpstreamView of the ledgers.
func (l *Ledgers) Upstream() UpstreamView {
	u := UpstreamView{Present: l.Sqlx, Recorded: l.sqlxRecorded(), Unknown: []int64{}, WouldApply: []int64{},
		Agrees: true, Missing: []int64{}, Extra: []int64{}}
	for _, r := range l.SqlxRows {
		if _, ok := migrations.UpstreamVersion(r.Version); !ok {
			u.Unknown = append(u.Unknown, r.Version)
		}
	}
	hasRow := func(v int64) bool {
		return slices.ContainsFunc(l.SqlxRows, func(r SqlxRow) bool { return r.Version == v })
	}
	if l.Goose {
		for _, v := range l.GooseApplied {
			if !hasRow(v) {
				u.Missing = append(u.Missing, v)
			}
		}
		for _, r := range l.SqlxRows {
			if !slices.Contains(l.GooseApplied, r.Version) {
				u.Extra = append(u.Extra, r.Version)
			}
		}
	}
	refused := l.CheckSqlx()
	u.Agrees = refused == nil && len(u.Missing) == 0 && len(u.Extra) == 0
	if refused != nil {
		u.Reason = refused.Error()
		return u
	}
	for _, m := range migrations.Upstream() {
		if !hasRow(m.Version) {
			u.WouldApply = append(u.WouldApply, m.Version)
		}
	}
	switch {
	case len(u.Missing) > 0:
		u.Reason = fmt.Sprintf("no _sqlx_migrations row for applied version(s) %s: upstream's runner would run them again and fail (table … already exists); `ffsqlite migrate up` records them", versionList(u.Missing))
	case len(u.Extra) > 0:
		u.Reason = fmt.Sprintf("_sqlx_migrations records version(s) %s that goose has not applied: upstream's runner would not apply them; `ffsqlite migrate adopt` checks the schema and records them in goose", versionList(u.Extra))
	case !l.Goose && !l.Sqlx && l.EngineTables:
		u.Reason = "engine tables without a migration ledger: upstream's runner would create them again and fail"
	default:
		u.WouldOpen = true
	}
	return u
}

// LedgersDisagreeError is returned by commands that write schema when
// _sqlx_migrations records versions goose has not applied (upstream's
// backend migrated the file further): running goose's migrations again
// would fail, so the file is left alone until `migrate adopt` records them.
type LedgersDisagreeError struct{ Extra []int64 }

func (e *LedgersDisagreeError) Error() string {
	return fmt.Sprintf("the ledgers disagree: _sqlx_migrations records version(s) %s that goose_db_version has not applied (upstream's backend migrated this file)", versionList(e.Extra))
}

// versionList renders versions as "1, 2, 3".
func versionList(vs []int64) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = strconv.FormatInt(v, 10)
	}
	return strings.Join(s, ", ")
}

// ChecksumHex renders a row's checksum for people and JSON.
func (r SqlxRow) ChecksumHex() string { return hex.EncodeToString(r.Checksum) }
