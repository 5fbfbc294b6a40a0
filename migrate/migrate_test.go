package migrate_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/migrate"
	"github.com/ffsqlite/ffsqlite/migrations"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

func TestMain(m *testing.M) { testdb.Main(m) }

func TestSourcesCoverEveryVersion(t *testing.T) {
	t.Parallel()
	srcs, err := migrate.Validate()
	if err != nil {
		t.Fatal(err)
	}
	want := migrations.Versions()
	if len(srcs) != len(want) {
		t.Fatalf("%d sources, want %d", len(srcs), len(want))
	}
	for i, s := range srcs {
		if s.Version != want[i] {
			t.Fatalf("source %d has version %d, want %d", i, s.Version, want[i])
		}
		if strings.Contains(s.Up, "+goose") || strings.Contains(s.Down, "+goose") {
			t.Fatalf("%s: annotation left in SQL", s.Name)
		}
	}
}

func TestParseSourcesRejectsBadFiles(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"no up":       "CREATE TABLE x(a);\n",
		"down before": "-- +goose Down\nDROP TABLE x;\n-- +goose Up\nCREATE TABLE x(a);\n",
	}
	for name, body := range cases {
		_, err := migrate.ParseSourcesFS(fstest.MapFS{"0001_x.sql": {Data: []byte(body)}})
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	srcs, err := migrate.ParseSourcesFS(fstest.MapFS{"0007_y.sql": {Data: []byte("-- +goose up\nCREATE TABLE y(a);\n-- +GOOSE DOWN\nDROP TABLE y;\n")}})
	if err != nil || len(srcs) != 1 || srcs[0].Version != 7 || srcs[0].Up != "CREATE TABLE y(a);" || srcs[0].Down != "DROP TABLE y;" {
		t.Fatalf("case-insensitive annotations: %+v %v", srcs, err)
	}
}

func TestMigratorSteps(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := testdb.Open(t)
	m, err := migrate.New(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Version(ctx); v != migrations.LatestVersion {
		t.Fatalf("version %d", v)
	}
	if p, _ := m.HasPending(ctx); p {
		t.Fatal("pending after testdb.Open")
	}
	if _, err := m.UpByOne(ctx); !errors.Is(err, migrate.ErrNoNextVersion) {
		t.Fatalf("UpByOne with nothing pending: %v", err)
	}
	steps, err := m.PlanDown(ctx, 17, 0)
	if err != nil || len(steps) != 4 || steps[0].Version != 22 || steps[3].Version != 18 {
		t.Fatalf("PlanDown(17): %+v %v", steps, err)
	}
	if _, err := m.DownTo(ctx, 17); err != nil {
		t.Fatal(err)
	}
	steps, err = m.PlanUp(ctx, 0, 1)
	if err != nil || len(steps) != 1 || steps[0].Name != "0018_completion_event_lookup_idx" {
		t.Fatalf("PlanUp next: %+v %v", steps, err)
	}
	var uv *migrate.UnknownVersionError
	if _, err := m.UpTo(ctx, 19); !errors.As(err, &uv) {
		t.Fatalf("UpTo(19): %v", err)
	}
	rs, err := m.Redo(ctx)
	if err != nil || len(rs) != 2 || rs[0].Direction != "down" || rs[1].Direction != "up" || rs[0].Version != 17 {
		t.Fatalf("Redo: %+v %v", rs, err)
	}
}

func TestExpectedFactsMatchSchemaJSON(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	want, err := schemafacts.ReadFile(filepath.Join("..", "schemafacts", "testdata", "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := migrate.ExpectedFacts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := schemafacts.Diff(want, got); len(d) > 0 {
		t.Fatalf("replayed migrations differ from schema.json:\n%s", strings.Join(d, "\n"))
	}
}
