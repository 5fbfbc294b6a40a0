package main

import (
	"bytes"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/migrate"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

// specRow is one row of the spec's upstream ledger table.
type specRow struct {
	version     int64
	description string
	checksum    []byte
}

// specLedger reads the copy of ../shared/spec/sqlx-ledger.md's table, so
// these tests check ffsqlite's rows against the spec, not against the
// migrations package's own copy.
func specLedger(t *testing.T) []specRow {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "migrations", "testdata", "sqlx-ledger-table.md"))
	if err != nil {
		t.Fatal(err)
	}
	var rows []specRow
	for _, line := range strings.Split(string(data), "\n") {
		cells := strings.Split(strings.Trim(line, "|"), "|")
		if len(cells) != 4 {
			continue
		}
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		v, err := strconv.ParseInt(cells[0], 10, 64)
		if err != nil {
			continue
		}
		sum, err := hex.DecodeString(cells[3])
		if err != nil {
			t.Fatal(err)
		}
		rows = append(rows, specRow{version: v, description: cells[2], checksum: sum})
	}
	if len(rows) != 20 {
		t.Fatalf("%d rows in the spec table copy", len(rows))
	}
	return rows
}

// upstreamRunner is a model of upstream's sqlx migrator, written from the
// spec alone: what it would do on opening the file.
type upstreamRunner struct {
	refused    string  // why it refuses ("" when it opens)
	wouldApply []int64 // versions it would apply, in order
}

func runUpstreamModel(t *testing.T, raw *sql.DB) upstreamRunner {
	t.Helper()
	spec := specLedger(t)
	type row struct {
		v       int64
		success bool
		sum     []byte
	}
	var rows []row
	var present int
	raw.QueryRow("SELECT count(*) FROM sqlite_master WHERE name = '_sqlx_migrations'").Scan(&present)
	if present == 1 {
		rs, err := raw.Query("SELECT version, success, checksum FROM _sqlx_migrations ORDER BY version")
		if err != nil {
			t.Fatal(err)
		}
		for rs.Next() {
			var r row
			if err := rs.Scan(&r.v, &r.success, &r.sum); err != nil {
				t.Fatal(err)
			}
			rows = append(rows, r)
		}
		rs.Close()
	}
	var out upstreamRunner
	for _, r := range rows {
		if !r.success {
			return upstreamRunner{refused: "dirty " + strconv.FormatInt(r.v, 10)}
		}
	}
	known := map[int64][]byte{}
	for _, s := range spec {
		known[s.version] = s.checksum
	}
	have := map[int64]bool{}
	for _, r := range rows {
		sum, ok := known[r.v]
		if !ok {
			return upstreamRunner{refused: "missing " + strconv.FormatInt(r.v, 10)}
		}
		if !bytes.Equal(sum, r.sum) {
			return upstreamRunner{refused: "mismatch " + strconv.FormatInt(r.v, 10)}
		}
		have[r.v] = true
	}
	out.wouldApply = []int64{}
	for _, s := range spec {
		if !have[s.version] {
			out.wouldApply = append(out.wouldApply, s.version)
		}
	}
	return out
}

// goosePending reads goose_db_version directly: the embedded versions it
// does not record as applied.
func goosePending(t *testing.T, raw *sql.DB) []int64 {
	t.Helper()
	applied := map[int64]bool{}
	rs, err := raw.Query("SELECT version_id, is_applied FROM goose_db_version ORDER BY id")
	if err != nil {
		t.Fatal(err)
	}
	for rs.Next() {
		var v int64
		var ok bool
		rs.Scan(&v, &ok)
		applied[v] = ok
	}
	rs.Close()
	out := []int64{}
	for _, s := range specLedger(t) {
		if !applied[s.version] {
			out = append(out, s.version)
		}
	}
	return out
}

// assertLedgersInStep checks that upstream's runner would accept the file
// and apply exactly the versions goose has not applied.
func assertLedgersInStep(t *testing.T, db, when string) {
	t.Helper()
	raw, err := sql.Open("sqlite", db+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	up := runUpstreamModel(t, raw)
	if up.refused != "" {
		t.Fatalf("%s: upstream's runner would refuse the file: %s", when, up.refused)
	}
	if gp := goosePending(t, raw); !slices.Equal(up.wouldApply, gp) {
		t.Fatalf("%s: upstream would apply %v, goose has not applied %v", when, up.wouldApply, gp)
	}
}

func TestInitWritesUpstreamLedgerAsTheSpecSays(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "ff.db")
	if _, e, code := runBin(t, nil, "init", "--db", db); code != 0 {
		t.Fatal(e)
	}
	raw, _ := sql.Open("sqlite", db)
	defer raw.Close()
	rs, err := raw.Query("SELECT version, description, success, checksum, execution_time, installed_on FROM _sqlx_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	spec := specLedger(t)
	i := 0
	for rs.Next() {
		var v, et int64
		var desc, at string
		var ok bool
		var sum []byte
		if err := rs.Scan(&v, &desc, &ok, &sum, &et, &at); err != nil {
			t.Fatal(err)
		}
		if i >= len(spec) {
			t.Fatalf("extra row %d", v)
		}
		if s := spec[i]; v != s.version || desc != s.description || !ok || !bytes.Equal(sum, s.checksum) || len(sum) != 48 || et < 0 || at == "" {
			t.Fatalf("row %d: (%d %q %v %x %d %q), spec (%d %q %x)", i, v, desc, ok, sum, et, at, s.version, s.description, s.checksum)
		}
		i++
	}
	if i != len(spec) {
		t.Fatalf("%d rows, spec has %d", i, len(spec))
	}
	assertLedgersInStep(t, db, "after init")
	// Bookkeeping, not schema: the file still matches schema.json exactly.
	got, _ := fileFacts(t, db)
	if d := schemafacts.Diff(parityTarget(t), got); len(d) > 0 {
		t.Fatalf("schema differs from schema.json: %v", d)
	}
	if out, e, code := runBin(t, nil, "inspect", "drift", "--db", db); code != 0 || !strings.Contains(out, "no drift") {
		t.Fatalf("drift after init: %d %s %s", code, out, e)
	}
}

func TestLedgersStayInStepThroughMigrations(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "ff.db")
	steps := [][]string{{"init"}, {"migrate", "down"}, {"migrate", "down-to", "13"}, {"migrate", "up-by-one"},
		{"migrate", "up"}, {"migrate", "redo"}, {"migrate", "up-to", "17"}, {"migrate", "reset"}, {"migrate", "up-to", "5"}, {"migrate", "up"}}
	for _, step := range steps {
		if out, e, code := runBin(t, nil, append(step, "--db", db)...); code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", step, code, out, e)
		}
		assertLedgersInStep(t, db, strings.Join(step, " "))
	}
	out, _, code := runBin(t, nil, "migrate", "status", "--db", db, "--json")
	var rep migrate.Report
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || !rep.Upstream.WouldOpen || !rep.Upstream.Agrees {
		t.Fatalf("status: %d %s", code, out)
	}
}

func TestMigrateUpRecordsLedgerOfAnOlderDatabase(t *testing.T) {
	t.Parallel()
	// A database migrated before ffsqlite kept upstream's ledger: goose
	// says 13, no _sqlx_migrations at all.
	db := filepath.Join(t.TempDir(), "ff.db")
	runCLI(t, "migrate", "up-to", "13", "--db", db)
	raw, _ := sql.Open("sqlite", db)
	raw.Exec("DROP TABLE _sqlx_migrations")
	raw.Close()
	out, _, code := runCLI(t, "migrate", "status", "--db", db, "--json")
	var rep migrate.Report
	json.Unmarshal([]byte(out), &rep)
	if code != 0 || rep.Upstream.WouldOpen || len(rep.Upstream.Missing) != 13 {
		t.Fatalf("status of an older database: %+v", rep.Upstream)
	}
	if out, e, code := runCLI(t, "inspect", "drift", "--db", db); code != exitDrift || !strings.Contains(out+e, "_sqlx_migrations") {
		t.Fatalf("drift should report the ledgers disagreeing: %d %s %s", code, out, e)
	}
	out, e, code := runCLI(t, "migrate", "up", "--db", db)
	if code != 0 || !strings.Contains(out, "recorded version(s) 1, 2, 3") {
		t.Fatalf("up: %d %s %s", code, out, e)
	}
	assertLedgersInStep(t, db, "after up")
}

func TestAdoptVerifiesUpstreamLedger(t *testing.T) {
	t.Parallel()
	spoil := map[string]string{
		"checksum":      "UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 7",
		"dirty":         "UPDATE _sqlx_migrations SET success = 0 WHERE version = 12",
		"unknown":       "INSERT INTO _sqlx_migrations(version, description, success, checksum, execution_time) VALUES (99, 'later', 1, x'00', 1)",
		"short chksum":  "UPDATE _sqlx_migrations SET checksum = substr(checksum, 1, 47) WHERE version = 22",
		"gap":           "DELETE FROM _sqlx_migrations WHERE version = 3",
		"schema drifts": "CREATE TABLE extra_table (x)",
	}
	wantVersion := map[string]string{"checksum": "version 7", "dirty": "version 12", "unknown": "version 99",
		"short chksum": "version 22", "gap": "1, 2, 4", "schema drifts": "extra_table"}
	for name, stmt := range spoil {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			db := filepath.Join(t.TempDir(), "upstream.db")
			makeUpstreamDB(t, db)
			raw, _ := sql.Open("sqlite", db)
			if _, err := raw.Exec(stmt); err != nil {
				t.Fatal(err)
			}
			raw.Close()
			before, _ := os.ReadFile(db)
			for _, args := range [][]string{{"migrate", "adopt", "--dry-run"}, {"migrate", "adopt"}} {
				_, errOut, code := runBin(t, nil, append(args, "--db", db)...)
				lines := strings.Split(strings.TrimSpace(errOut), "\n")
				if code != exitBadDatabase || len(lines) < 2 || !strings.Contains(lines[len(lines)-2], wantVersion[name]) || !strings.HasPrefix(lines[len(lines)-1], "Try: ") {
					t.Fatalf("%v: exit %d, stderr %q", args, code, errOut)
				}
			}
			if after, _ := os.ReadFile(db); !bytes.Equal(before, after) {
				t.Fatal("refused adopt changed the file")
			}
			if entries, _ := os.ReadDir(filepath.Dir(db)); len(entries) != 1 {
				t.Fatalf("refused adopt left files: %v", entries)
			}
		})
	}
}

func TestAdoptKeepsGenuineUpstreamLedger(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "upstream.db")
	makeUpstreamDB(t, db)
	raw, _ := sql.Open("sqlite", db)
	dump := func() string {
		var s strings.Builder
		rs, _ := raw.Query("SELECT version, description, success, hex(checksum), execution_time, installed_on FROM _sqlx_migrations ORDER BY version")
		defer rs.Close()
		for rs.Next() {
			var a, b, c, d, e, f string
			rs.Scan(&a, &b, &c, &d, &e, &f)
			s.WriteString(strings.Join([]string{a, b, c, d, e, f}, "|") + "\n")
		}
		return s.String()
	}
	before := dump()
	raw.Close()
	if out, e, code := runBin(t, nil, "migrate", "adopt", "--dry-run", "--db", db); code != 0 || !strings.Contains(out, "would record 20") {
		t.Fatalf("dry run: %d %s %s", code, out, e)
	}
	if out, e, code := runBin(t, nil, "migrate", "adopt", "--db", db); code != 0 || !strings.Contains(out, "recorded 20 goose versions") {
		t.Fatalf("adopt: %d %s %s", code, out, e)
	}
	raw, _ = sql.Open("sqlite", db)
	after := dump()
	raw.Close()
	if before != after {
		t.Fatalf("adopt changed _sqlx_migrations:\n%s\nvs\n%s", before, after)
	}
	assertLedgersInStep(t, db, "after adopt")
	// A rollback then removes the rows again in step.
	if _, e, code := runBin(t, nil, "migrate", "down-to", "13", "--db", db); code != 0 {
		t.Fatal(e)
	}
	assertLedgersInStep(t, db, "after down-to 13")
}

func TestAdoptPartialUpstreamAndUpstreamAhead(t *testing.T) {
	t.Parallel()
	// ffsqlite at 13; upstream's backend then opened it and applied 14–22
	// itself (simulated: the rows written as its runner writes them).
	db := filepath.Join(t.TempDir(), "ff.db")
	runCLI(t, "migrate", "up", "--db", db)
	raw, _ := sql.Open("sqlite", db)
	raw.Exec("DELETE FROM goose_db_version WHERE version_id > 13")
	raw.Close()
	_, errOut, code := runCLI(t, "migrate", "up", "--db", db)
	if code != exitBadDatabase || !strings.Contains(errOut, "ledgers disagree") || !strings.Contains(errOut, "migrate adopt") {
		t.Fatalf("up with upstream ahead: %d %q", code, errOut)
	}
	if out, e, code := runCLI(t, "inspect", "drift", "--db", db); code != exitDrift || !strings.Contains(out+e, "14") {
		t.Fatalf("drift: %d %s %s", code, out, e)
	}
	out, e, code := runCLI(t, "migrate", "adopt", "--db", db)
	if code != 0 || !strings.Contains(out, "recorded 7 goose versions") {
		t.Fatalf("adopt: %d %s %s", code, out, e)
	}
	assertLedgersInStep(t, db, "after adopt")
	if out, _, code := runCLI(t, "migrate", "status", "--db", db); code != 0 || !strings.Contains(out, "would open") {
		t.Fatalf("status: %s", out)
	}
}

func TestKillDuringDownKeepsLedgersInStep(t *testing.T) {
	t.Parallel()
	midway := 0
	for _, target := range []int64{20, 14, 9, 3} {
		db := filepath.Join(t.TempDir(), "ff.db")
		if _, e, code := runBin(t, nil, "init", "--db", db); code != 0 {
			t.Fatal(e)
		}
		cmd := binCmd(t, nil, "migrate", "down-to", "0", "--db", db)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitForVersionAtMost(t, db, target)
		cmd.Process.Kill()
		cmd.Wait()
		got, v := fileFacts(t, db)
		if d := schemafacts.Diff(expectedFactsAt(t, v), got); len(d) > 0 {
			t.Fatalf("killed at version %d: not clean: %v", v, d)
		}
		if v > 0 && v < 22 {
			midway++
		}
		assertLedgersInStep(t, db, "killed during down-to 0 at version "+strconv.FormatInt(v, 10))
		if _, e, code := runBin(t, nil, "migrate", "up", "--db", db); code != 0 {
			t.Fatalf("up after the kill: %s", e)
		}
		assertLedgersInStep(t, db, "up after the kill")
	}
	if midway == 0 {
		t.Fatal("no kill landed in the middle of the rollback: the test exercised nothing")
	}
}

// waitForVersionAtMost polls db until its goose version drops to v or
// below (the sleep in waitForVersion only paces the reads).
func waitForVersionAtMost(t *testing.T, db string, v int64) {
	t.Helper()
	raw, err := sql.Open("sqlite", db+"?_pragma=busy_timeout(1000)")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for i := 0; i < 150000; i++ {
		var cur sql.NullInt64
		if raw.QueryRow("SELECT max(version_id) FROM goose_db_version").Scan(&cur) == nil && cur.Valid && cur.Int64 <= v {
			return
		}
	}
	t.Fatalf("rollback never reached version %d", v)
}

// migrate status --exit-code and inspect agree on a database made by
// upstream's runner: nothing is pending by its ledger, and both say to
// adopt it.
func TestStatusAndInspectAgreeOnUpstreamDatabase(t *testing.T) {
	t.Parallel()
	for _, upTo := range []int{20, 13} {
		db := filepath.Join(t.TempDir(), "upstream.db")
		makeUpstreamDB(t, db)
		if upTo < 20 {
			// upstream's runner stopped at version 13 (drop what 14–22 made)
			raw, _ := sql.Open("sqlite", db)
			raw.Exec("DELETE FROM _sqlx_migrations WHERE version > 13")
			raw.Close()
		}
		out, errOut, code := runBin(t, nil, "migrate", "status", "--db", db, "--exit-code", "--json")
		var rep migrate.Report
		json.Unmarshal([]byte(out), &rep)
		ins, _, icode := runBin(t, nil, "inspect", "--db", db, "--json")
		var ov struct {
			Schema struct {
				Version int64   `json:"version"`
				Pending []int64 `json:"pending"`
				Note    string  `json:"note"`
			} `json:"schema"`
		}
		json.Unmarshal([]byte(ins), &ov)
		if icode != 0 || ov.Schema.Version != rep.Current || len(ov.Schema.Pending) != rep.Pending ||
			!strings.Contains(ov.Schema.Note, "migrate adopt") || !strings.Contains(rep.Note, "migrate adopt") {
			t.Fatalf("up to %d: status %+v, inspect %+v", upTo, rep, ov.Schema)
		}
		wantCode := 0
		if upTo < 20 {
			wantCode = exitPending
		}
		if code != wantCode {
			t.Fatalf("up to %d: status --exit-code exit %d (want %d): %s", upTo, code, wantCode, errOut)
		}
	}
	db := filepath.Join(t.TempDir(), "upstream.db")
	makeUpstreamDB(t, db)
	out, _, _ := runBin(t, nil, "inspect", "--db", db)
	if !strings.Contains(out, "up to date") || !strings.Contains(out, "migrate adopt") {
		t.Fatalf("inspect: %s", out)
	}
	if out, _, code := runBin(t, nil, "migrate", "status", "--db", db); code != 0 || !strings.Contains(out, "0 pending") || !strings.Contains(out, "migrate adopt") {
		t.Fatalf("status: %s", out)
	}
}
