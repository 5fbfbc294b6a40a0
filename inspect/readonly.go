package inspect

import (
	"context"
	"database/sql"
	"net/url"
	"os"

	"github.com/ffsqlite/ffsqlite/backend"
)

// HoldReadOnly pins a database file for a read-only session and returns
// the function that releases the pin. Call it before backend.Open and
// release after Backend.Close.
//
// Why: query_only stops SQL from writing, but not SQLite itself. When the
// last connection to a WAL database closes, SQLite checkpoints the WAL into
// the main file and deletes the WAL, so an inspect that happens to be the
// last reader (for example after a writer crashed and left committed
// frames in the WAL) would rewrite the main file. The pin is a connection
// opened with SQLITE_OPEN_READONLY (mode=ro) that has read the schema, so
// it holds the shared lock that keeps the backend's connections from being
// "last"; closing last itself, it cannot checkpoint, being read-only. The
// pin reads nothing else: every query still goes through the backend.
//
// It does nothing for in-memory databases, and quietly nothing when the
// file cannot be opened (backend.Open then reports why). Call it only once
// FF_DEV_MODE is known to be set: it touches the file.
func HoldReadOnly(ctx context.Context, path string) (release func()) {
	noop := func() {}
	abs, err := backend.FilePath(path)
	if err != nil || abs == "" {
		return noop
	}
	if st, err := os.Stat(abs); err != nil || !st.Mode().IsRegular() || st.Size() == 0 {
		return noop
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro"}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return noop
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return noop
	}
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		conn.Close()
		db.Close()
		return noop
	}
	return func() {
		conn.Close()
		db.Close()
	}
}
