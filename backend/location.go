package backend

import (
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// location is a resolved database path: where the file is (for file
// databases), the DSN base handed to the driver, and the registry key.
type location struct {
	memory bool
	file   string // absolute filesystem path; "" for memory databases
	uri    string // driver DSN without ffsqlite's own parameters
	key    string
}

// ErrNotDatabase is returned by Open when the file exists but is not a
// SQLite database; nothing is written to it.
var ErrNotDatabase = errors.New("not a SQLite database")

// ErrNoParentDir is returned by Open when a file database's parent
// directory does not exist and Options.CreateDirs is false.
var ErrNoParentDir = errors.New("parent directory does not exist")

// ErrUnwritable is returned by Open when a file database cannot be created
// where it was asked for (a read-only or virtual filesystem).
var ErrUnwritable = errors.New("location is not writable")

// ErrNotExist is returned by Open when the file is missing and
// Options.MustExist is set.
var ErrNotExist = errors.New("database file does not exist")

// ErrReadOnlyDirectory is returned by a read-only Open of a database in
// a directory the process cannot write whose write-ahead log holds
// frames: SQLite reads those only through a -shm file beside it.
var ErrReadOnlyDirectory = errors.New("database directory is not writable")

// resolve classifies path and computes its key. File keys are absolute with
// symlinks resolved (the parent's, when the file does not exist yet), so
// "./x.db", "/abs/x.db" and a symlink to it are one backend.
func resolve(path string) (location, error) {
	if path == "" {
		return location{}, errors.New("empty database path")
	}
	if IsMemoryURI(path) {
		eff := effectiveMemoryURI(path)
		return location{memory: true, uri: eff, key: eff}, nil
	}
	fsPath := path
	if strings.HasPrefix(path, "file:") {
		u, err := url.Parse(path)
		if err != nil {
			return location{}, fmt.Errorf("parse database URI %q: %w", path, err)
		}
		fsPath = u.Opaque
		if fsPath == "" {
			fsPath = u.Path
		}
		if p, err := url.PathUnescape(fsPath); err == nil {
			fsPath = p
		}
	}
	abs, err := filepath.Abs(fsPath)
	if err != nil {
		return location{}, fmt.Errorf("resolve database path %q: %w", path, err)
	}
	canon := abs
	if p, err := filepath.EvalSymlinks(abs); err == nil {
		canon = p
	} else if d, err := filepath.EvalSymlinks(filepath.Dir(abs)); err == nil {
		canon = filepath.Join(d, filepath.Base(abs))
	}
	u := url.URL{Scheme: "file", Path: canon}
	return location{file: canon, uri: u.String(), key: canon}, nil
}

// sqliteHeader is the 16-byte magic string every SQLite database starts
// with.
const sqliteHeader = "SQLite format 3\x00"

// checkFile validates a file database before any connection touches it:
// the parent directory must exist (or be created), an existing file must
// start with SQLite's header. It reports whether the file existed.
func checkFile(loc location, o Options) (existed bool, err error) {
	dir := filepath.Dir(loc.file)
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if !o.CreateDirs {
			return false, fmt.Errorf("%s: %w", dir, ErrNoParentDir)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return false, fmt.Errorf("create directory %s: %w (%v)", dir, ErrUnwritable, err)
		}
	case err != nil:
		return false, fmt.Errorf("stat %s: %w", dir, err)
	case !st.IsDir():
		return false, fmt.Errorf("%s is not a directory: %w", dir, ErrNoParentDir)
	}
	f, err := os.Open(loc.file)
	if errors.Is(err, os.ErrNotExist) {
		if o.MustExist {
			return false, fmt.Errorf("%s: %w (run `ffsqlite init` first)", loc.file, ErrNotExist)
		}
		return false, nil
	}
	if err != nil {
		return true, fmt.Errorf("open %s: %w", loc.file, err)
	}
	defer f.Close()
	st, err = f.Stat()
	if err != nil {
		return true, fmt.Errorf("stat %s: %w", loc.file, err)
	}
	if st.IsDir() {
		return true, fmt.Errorf("%s is a directory: %w", loc.file, ErrNotDatabase)
	}
	if st.Size() == 0 {
		return true, nil // SQLite treats an empty file as an empty database
	}
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, head); err != nil || string(head) != sqliteHeader {
		return true, fmt.Errorf("%s: %w", loc.file, ErrNotDatabase)
	}
	return true, nil
}

// FilePath returns the canonical filesystem path Open would use for path
// (absolute, symlinks resolved), or "" for an in-memory database.
func FilePath(path string) (string, error) {
	loc, err := resolve(path)
	if err != nil {
		return "", err
	}
	return loc.file, nil
}
