package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/migrate"
)

// cliError carries an exit code and a "Try:" hint with an error.
type cliError struct {
	code int
	err  error
	hint string
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

// withCode attaches an exit code and hint to err.
func withCode(code int, err error, hint string) error {
	if err == nil {
		return nil
	}
	return &cliError{code: code, err: err, hint: hint}
}

// usageErr is a usage error with a hint.
func usageErr(hint, format string, args ...any) error {
	return &cliError{code: exitUsage, err: fmt.Errorf(format, args...), hint: hint}
}

// classify maps an error to its exit code and hint.
func classify(err error) (int, string) {
	var ce *cliError
	if errors.As(err, &ce) {
		if ce.hint == "" {
			_, h := classify(ce.err)
			return ce.code, h
		}
		return ce.code, ce.hint
	}
	if code, hint, ok := classifyDatabaseState(err); ok {
		return code, hint
	}
	var ahead *backend.SchemaAheadError
	switch {
	case errors.Is(err, backend.ErrRequiresDevMode):
		return exitDevMode, "export FF_DEV_MODE=1 (SQLite is a dev-only backend)"
	case errors.As(err, &ahead):
		return exitBadDatabase, "use a newer ffsqlite, or point --db at another file"
	case errors.Is(err, backend.ErrNotDatabase):
		return exitBadDatabase, "check the --db path (a file that is not SQLite is never modified)"
	case errors.Is(err, backend.ErrNoParentDir):
		return exitBadDatabase, "create the directory, or run `ffsqlite init` (it creates parent directories)"
	case errors.Is(err, backend.ErrNotExist):
		return exitBadDatabase, "ffsqlite init --db PATH"
	case errors.Is(err, migrate.ErrUpstreamLedger):
		return exitBadDatabase, "ffsqlite migrate adopt --db PATH"
	case errors.Is(err, migrate.ErrNoNextVersion):
		return exitFailure, "ffsqlite migrate status --db PATH (shows the applied and pending versions; nothing is left to apply or roll back)"
	case errors.Is(err, migrate.ErrNothingToAdopt):
		return exitFailure, "ffsqlite migrate status --db PATH (the database already uses ffsqlite's ledger)"
	case errors.Is(err, backend.ErrReadOnlyDirectory):
		return exitBadDatabase, "copy the database and its -wal file to a writable directory, or open it once where it can be written (closing it cleanly folds the log into the file)"
	case errors.Is(err, backend.ErrUnwritable), errors.Is(err, syscall.EROFS), errors.Is(err, os.ErrPermission):
		return exitBadDatabase, "choose a writable location for --db"
	case isSQLiteOpenFailure(err):
		return exitBadDatabase, "check that --db names a healthy, writable SQLite file"
	}
	return exitFailure, ""
}

// isSQLiteOpenFailure recognises the driver's messages for files it cannot
// open or read (CANTOPEN, NOTADB, CORRUPT, READONLY).
func isSQLiteOpenFailure(err error) bool {
	s := err.Error()
	for _, m := range []string{"unable to open database file", "file is not a database",
		"database disk image is malformed", "attempt to write a readonly database", "SQLITE_CANTOPEN",
		"SQLITE_NOTADB", "SQLITE_CORRUPT", "SQLITE_READONLY"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// printError writes the one-line error and its hint; fallback is the hint
// of an error no rule knows.
func printError(w io.Writer, err error, fallback string) int {
	code, hint := classify(err)
	if hint == "" {
		hint = fallback
	}
	msg := strings.ReplaceAll(err.Error(), "\n", " ")
	if errors.Is(err, backend.ErrRequiresDevMode) {
		fmt.Fprintln(w, backend.ErrRequiresDevMode.Error()) // upstream's text, unprefixed
	} else {
		fmt.Fprintf(w, "ffsqlite: %s\n", msg)
	}
	if hint != "" {
		fmt.Fprintf(w, "Try: %s\n", hint)
	}
	return code
}
