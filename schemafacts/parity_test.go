package schemafacts_test

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ffsqlite/ffsqlite/migrations"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

func TestParityWithSchemaJSON(t *testing.T) {
	t.Parallel()
	db, _, _ := migratedDB(t)
	f := collect(t, db)
	requireMatchesExpected(t, f)
	if d := schemafacts.Diff(expectedFacts(t), f); len(d) != 0 {
		t.Fatalf("Diff reports differences on identical schemas: %q", d)
	}
}

func TestSeedRows(t *testing.T) {
	t.Parallel()
	db, _, _ := migratedDB(t)
	ctx := context.Background()

	var lock, flows, budgets, quotas int
	var version string
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM ff_partition_config`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("ff_partition_config rows = %d, err %v; want 1", n, err)
	}
	err := db.QueryRowContext(ctx, `SELECT singleton_lock, num_flow_partitions, num_budget_partitions,
		num_quota_partitions, ff_version FROM ff_partition_config`).Scan(&lock, &flows, &budgets, &quotas, &version)
	if err != nil {
		t.Fatal(err)
	}
	if lock != 1 || flows != 1 || budgets != 1 || quotas != 1 || version != "0.12.0" {
		t.Fatalf("ff_partition_config = (%d, %d, %d, %d, %q), want (1, 1, 1, 1, '0.12.0')", lock, flows, budgets, quotas, version)
	}

	got := annotations(t, db)
	var want []int64
	for _, a := range got {
		want = append(want, a.version)
	}
	if !slices.Equal(want, migrations.AnnotatedVersions()) ||
		!slices.Equal(want, []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 20}) {
		t.Fatalf("annotation versions = %v", want)
	}
	names := map[int64]string{}
	for _, m := range migrations.Versions() {
		names[m] = ""
	}
	for _, a := range got {
		wantBC := int64(1)
		if a.version == 1 {
			wantBC = 0
		}
		if a.backwardCompatible != wantBC {
			t.Errorf("annotation %d backward_compatible = %d, want %d", a.version, a.backwardCompatible, wantBC)
		}
		if a.appliedAtMs < 1_600_000_000_000 {
			t.Errorf("annotation %d applied_at_ms = %d, not a ms timestamp", a.version, a.appliedAtMs)
		}
		if _, err := migrations.FS().Open(a.name + ".sql"); err != nil {
			t.Errorf("annotation %d name %q does not match a migration file: %v", a.version, a.name, err)
		}
	}
	if got[len(got)-1].appliedAtMs%1000 != 0 {
		t.Errorf("annotation 20 applied_at_ms = %d, want second precision", got[len(got)-1].appliedAtMs)
	}
}

type annotation struct {
	version, appliedAtMs, backwardCompatible int64
	name                                     string
}

func annotations(t *testing.T, db *sql.DB) []annotation {
	t.Helper()
	rows, err := db.Query(`SELECT version, name, applied_at_ms, backward_compatible FROM ff_migration_annotation ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []annotation
	for rows.Next() {
		var a annotation
		if err := rows.Scan(&a.version, &a.name, &a.appliedAtMs, &a.backwardCompatible); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestFactsJSONRoundTrip(t *testing.T) {
	t.Parallel()
	want, err := os.ReadFile(expectedPath)
	if err != nil {
		t.Fatal(err)
	}
	f, err := schemafacts.Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.JSON()
	if err != nil {
		t.Fatal(err)
	}
	// schema.json was written by json.dumps(indent=2, sort_keys=True), so
	// the Go rendering must be byte-identical, not just equivalent.
	if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		requireSameJSON(t, expectedPath, want, "re-encoded", got)
		t.Fatal("re-encoded schema.json is equivalent but not byte-identical")
	}
}

func TestAgreesWithPythonExtractor(t *testing.T) {
	t.Parallel()
	script := filepath.Join("..", "..", "shared", "tools", "schema_facts.py")
	if _, err := os.Stat(script); err != nil {
		t.Skipf("reference extractor %s not available: %v", script, err)
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	db, path, _ := migratedDB(t)
	f := collect(t, db)
	gotJSON, err := f.JSON()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, script, path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pyJSON, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", script, err, stderr.String())
	}
	requireSameJSON(t, "schema_facts.py output", pyJSON, "Go facts", gotJSON)
	if !bytes.Equal(pyJSON, gotJSON) {
		t.Errorf("Go facts JSON is equivalent to schema_facts.py's but not byte-identical")
	}
}
