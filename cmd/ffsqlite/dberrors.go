package main

import (
	"errors"
	"fmt"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/dblock"
	"github.com/ffsqlite/ffsqlite/migrate"
)

// classifyDatabaseState maps the errors about a database's state (its
// integrity, its two migration ledgers, the processes using it) to exit
// codes and hints; ok is false for any other error.
func classifyDatabaseState(err error) (code int, hint string, ok bool) {
	var (
		busy     *dblock.BusyError
		serving  *dblock.ServingError
		upstream *migrate.UpstreamLedgerError
		disagree *migrate.LedgersDisagreeError
		mismatch *migrate.SchemaMismatchError
		gap      *migrate.NotContiguousError
	)
	switch {
	case errors.As(err, &serving):
		h := serving.Holder
		return exitBusy, fmt.Sprintf("use the running server (%s), stop it first (kill %d), or pass --allow-second-process", baseURL(h.Addr), h.PID), true
	case errors.As(err, &busy):
		if len(busy.Holders) == 0 {
			return exitBusy, "stop the other ffsqlite process using the file, then run the command again", true
		}
		return exitBusy, fmt.Sprintf("stop %s first (kill %d), then run the command again", busy.Holders[0], busy.Holders[0].PID), true
	case errors.Is(err, backend.ErrCorrupt):
		return exitBadDatabase, "restore a snapshot (ffsqlite restore --db PATH SNAPSHOT), or start afresh with another --db", true
	case errors.As(err, &upstream):
		return exitBadDatabase, "ffsqlite migrate status --db PATH (shows both ledgers); fix or remove that _sqlx_migrations row", true
	case errors.As(err, &disagree):
		return exitBadDatabase, "ffsqlite migrate adopt --db PATH (checks the schema and records those versions in goose)", true
	case errors.As(err, &mismatch), errors.As(err, &gap):
		return exitBadDatabase, "ffsqlite inspect drift --db PATH (shows every difference)", true
	}
	return 0, "", false
}
