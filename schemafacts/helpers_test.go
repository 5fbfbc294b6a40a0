package schemafacts_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/pressly/goose/v3"
	_ "modernc.org/sqlite"

	"github.com/ffsqlite/ffsqlite/migrations"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

const expectedPath = "testdata/schema.json"

// openDB opens a fresh SQLite database file in a per-test temp dir.
func openDB(t *testing.T) (*sql.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ff.db")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, path
}

// newProvider returns a goose provider over the embedded migrations.
func newProvider(t *testing.T, db *sql.DB) *goose.Provider {
	t.Helper()
	p, err := goose.NewProvider(goose.DialectSQLite3, db, migrations.FS())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// migratedDB opens a fresh database and runs every Up migration.
func migratedDB(t *testing.T) (*sql.DB, string, *goose.Provider) {
	t.Helper()
	db, path := openDB(t)
	p := newProvider(t, db)
	if _, err := p.Up(context.Background()); err != nil {
		t.Fatalf("goose up: %v", err)
	}
	return db, path, p
}

// collect runs schemafacts.Collect and fails the test on error.
func collect(t *testing.T, db *sql.DB) *schemafacts.Facts {
	t.Helper()
	f, err := schemafacts.Collect(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// expectedFacts loads testdata/schema.json.
func expectedFacts(t *testing.T) *schemafacts.Facts {
	t.Helper()
	f, err := schemafacts.ReadFile(expectedPath)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// generic decodes JSON into a generic value.
func generic(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// requireSameJSON compares two JSON documents structurally and reports the
// differing paths.
func requireSameJSON(t *testing.T, wantName string, want []byte, gotName string, got []byte) {
	t.Helper()
	w, g := generic(t, want), generic(t, got)
	if reflect.DeepEqual(w, g) {
		return
	}
	var diffs []string
	jsonDiff("$", w, g, &diffs)
	if len(diffs) > 40 {
		diffs = append(diffs[:40], fmt.Sprintf("... and %d more", len(diffs)-40))
	}
	t.Fatalf("%s and %s differ:\n  %s", wantName, gotName, strings.Join(diffs, "\n  "))
}

// jsonDiff appends "path: want X, got Y" lines for every difference.
func jsonDiff(path string, want, got any, out *[]string) {
	switch w := want.(type) {
	case map[string]any:
		g, ok := got.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range w {
			keys[k] = true
		}
		for k := range g {
			keys[k] = true
		}
		sorted := make([]string, 0, len(keys))
		for k := range keys {
			sorted = append(sorted, k)
		}
		sort.Strings(sorted)
		for _, k := range sorted {
			p := path + "." + k
			if name, ok := w["name"].(string); ok {
				p = path + "[" + name + "]." + k
			}
			wv, wok := w[k]
			gv, gok := g[k]
			switch {
			case !gok:
				*out = append(*out, p+": missing")
			case !wok:
				*out = append(*out, p+": unexpected")
			default:
				jsonDiff(p, wv, gv, out)
			}
		}
		return
	case []any:
		g, ok := got.([]any)
		if !ok || len(g) != len(w) {
			break
		}
		for i := range w {
			jsonDiff(fmt.Sprintf("%s[%d]", path, i), w[i], g[i], out)
		}
		return
	}
	if !reflect.DeepEqual(want, got) {
		wb, _ := json.Marshal(want)
		gb, _ := json.Marshal(got)
		*out = append(*out, fmt.Sprintf("%s: want %s, got %s", path, wb, gb))
	}
}

// requireMatchesExpected compares facts with testdata/schema.json.
func requireMatchesExpected(t *testing.T, f *schemafacts.Facts) {
	t.Helper()
	want, err := os.ReadFile(expectedPath)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.JSON()
	if err != nil {
		t.Fatal(err)
	}
	requireSameJSON(t, expectedPath, want, "collected facts", got)
}
