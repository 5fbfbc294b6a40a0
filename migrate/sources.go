package migrate

import (
	"bufio"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"

	"github.com/ffsqlite/ffsqlite/migrations"
)

// Source is one embedded migration file split into its two directions.
type Source struct {
	Version int64
	Name    string // file name without .sql, e.g. "0001_initial"
	Up      string
	Down    string
}

// Sources parses every embedded migration, in version order.
func Sources() ([]Source, error) { return parseSources(migrations.FS()) }

// embedded caches Sources: the embedded files never change.
var embedded = sync.OnceValues(Sources)

// ParseSourcesFS parses the goose SQL files at the root of fsys, in
// version order. Sources uses it on the embedded migrations.
func ParseSourcesFS(fsys fs.FS) ([]Source, error) { return parseSources(fsys) }

func parseSources(fsys fs.FS) ([]Source, error) {
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	var out []Source
	for _, n := range names { // fs.Glob returns names sorted
		v, err := strconv.ParseInt(strings.SplitN(n, "_", 2)[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("migration %s: name does not start with a version", n)
		}
		body, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, err
		}
		up, down, err := splitDirections(string(body))
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", n, err)
		}
		out = append(out, Source{Version: v, Name: strings.TrimSuffix(path.Base(n), ".sql"), Up: up, Down: down})
	}
	return out, nil
}

// splitDirections cuts a goose SQL file at its "-- +goose Up" and
// "-- +goose Down" annotations (case-insensitive), keeping the statements
// and dropping the annotation lines themselves.
func splitDirections(body string) (up, down string, err error) {
	var cur *strings.Builder
	var ub, db strings.Builder
	seenUp := false
	sc := bufio.NewScanner(strings.NewReader(body))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := sc.Text()
		ann := strings.ToLower(strings.Join(strings.Fields(line), " "))
		switch {
		case ann == "-- +goose up":
			seenUp, cur = true, &ub
			continue
		case ann == "-- +goose down":
			if !seenUp {
				return "", "", fmt.Errorf("-- +goose Down before -- +goose Up")
			}
			cur = &db
			continue
		case strings.HasPrefix(ann, "-- +goose "):
			continue // StatementBegin/End, NO TRANSACTION
		}
		if cur != nil {
			cur.WriteString(line)
			cur.WriteByte('\n')
		}
	}
	if !seenUp {
		return "", "", fmt.Errorf("missing -- +goose Up")
	}
	return strings.TrimSpace(ub.String()), strings.TrimSpace(db.String()), sc.Err()
}

// sourceName returns the embedded migration name of version v, or the
// number when no file has it.
func sourceName(v int64) string {
	srcs, err := embedded()
	if err == nil {
		for _, s := range srcs {
			if s.Version == v {
				return s.Name
			}
		}
	}
	return strconv.FormatInt(v, 10)
}
