package main

import (
	"errors"
	"fmt"
	"net"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/dblock"
	"github.com/ffsqlite/ffsqlite/dbops"
	"github.com/ffsqlite/ffsqlite/migrate"
)

// classifyDatabaseState maps the errors about a database's state (its
// integrity, its two migration ledgers, the processes using it) to exit
// codes and hints; ok is false for any other error.
func classifyDatabaseState(err error) (code int, hint string, ok bool) {
	var (
		exists   *dbops.ExistsError
		same     *dbops.SameFileError
		entry    *dbops.SeedEntryError
		seedFile *dbops.SeedFileError
		notReady *dbops.NotReadyError
		notOurs  *dbops.NotManagedError
		damaged  *dbops.DamagedTargetError
		noSnap   *dbops.NoSnapshotError
		badSnap  *dbops.BadSnapshotError
		busy     *dblock.BusyError
		serving  *dblock.ServingError
		upstream *migrate.UpstreamLedgerError
		disagree *migrate.LedgersDisagreeError
		mismatch *migrate.SchemaMismatchError
		gap      *migrate.NotContiguousError
	)
	switch {
	case errors.As(err, &exists):
		return exitUsage, "choose another OUT, or pass --force to replace it", true
	case errors.As(err, &same):
		return exitUsage, "write the snapshot to another file", true
	case errors.As(err, &entry), errors.As(err, &seedFile):
		return exitUsage, "fix FILE: each entry is the request body of its REST route (docs/http-api.md); nothing was applied", true
	case errors.Is(err, dbops.ErrNeedsFile):
		return exitUsage, "point --db at a database file", true
	case errors.As(err, &notReady):
		if notReady.Ledger == migrate.LedgerUpstream {
			return exitBadDatabase, "ffsqlite migrate adopt --db PATH", true
		}
		return exitBadDatabase, "ffsqlite init --db PATH (or ffsqlite migrate up --db PATH)", true
	case errors.As(err, &noSnap):
		return exitUsage, "give restore an existing snapshot (ffsqlite snapshot --db DB OUT makes one)", true
	case errors.As(err, &badSnap) && (errors.Is(err, backend.ErrNotDatabase) || errors.Is(err, backend.ErrCorrupt)):
		return exitBadDatabase, "give restore a snapshot made by `ffsqlite snapshot --db DB OUT` (IN is never modified)", true
	case errors.As(err, &damaged):
		return exitBadDatabase, "move the damaged file aside (with its -wal and -shm), then run restore again: it creates --db", true
	case errors.As(err, &notOurs):
		return exitBadDatabase, "copy it into place yourself and run `ffsqlite migrate adopt --db PATH`", true
	case errors.As(err, &serving):
		h := serving.Holder
		url := "http://" + h.Addr
		if a, err := net.ResolveTCPAddr("tcp", h.Addr); err == nil {
			url = browseURL(a)
		}
		return exitBusy, fmt.Sprintf("use the running server (%s), stop it first (kill %d), or pass --allow-second-process", url, h.PID), true
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
