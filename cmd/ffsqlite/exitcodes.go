package main

// Exit codes, documented in the README and in `ffsqlite --help`. They are
// the one place a script learns what went wrong without parsing stderr.
const (
	exitOK = 0
	// exitFailure: the operation failed (I/O, SQL, a migration error).
	exitFailure = 1
	// exitUsage: bad flags, arguments or environment values.
	exitUsage = 2
	// exitDevMode: FF_DEV_MODE is not exactly "1"; nothing was opened.
	exitDevMode = 3
	// exitBadDatabase: the file is not a usable ffsqlite database (not
	// SQLite, corrupt, missing, newer than this binary, upstream ledger
	// not adopted, unwritable location); it was left untouched.
	exitBadDatabase = 4
	// exitPending: `migrate status --exit-code` / `migrate validate --db`
	// found pending migrations.
	exitPending = 5
	// exitDrift: `inspect drift` found the file's schema differs from the
	// embedded migrations.
	exitDrift = 6
	// exitScanErrors: `scan --once` had a reconciler tick that errored.
	exitScanErrors = 7
	// exitAddrInUse: `serve` could not listen on its address.
	exitAddrInUse = 8
	// exitBusy: another ffsqlite process (serve, scan) has the database
	// and the command would pull it from under it (a rollback, restore,
	// reset, a second serve); nothing was changed.
	exitBusy = 9
)

const exitCodesHelp = `EXIT CODES:
   0  success
   1  operation failed
   2  usage error (bad flag, argument or environment value; a bad seed entry,
      an existing snapshot OUT)
   3  FF_DEV_MODE is not exactly 1: refused before opening anything
   4  database unusable (not SQLite, corrupt, missing, newer than this binary,
      upstream ledger not adopted, location not writable); left untouched
   5  pending migrations (migrate status --exit-code, migrate validate)
   6  schema drift found (inspect drift)
   7  a reconciler tick failed (scan --once)
   8  listen address in use (serve)
   9  the database is in use by another ffsqlite process (serve, scan): a rollback,
      restore, reset or second serve refused; nothing changed
`
