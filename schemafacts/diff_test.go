package schemafacts_test

import (
	"context"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/schemafacts"
)

func TestDiffReportsAddedColumn(t *testing.T) {
	t.Parallel()
	db, _, _ := migratedDB(t)
	if _, err := db.ExecContext(context.Background(), `ALTER TABLE ff_lane_registry ADD COLUMN x TEXT`); err != nil {
		t.Fatal(err)
	}
	exp, act := expectedFacts(t), collect(t, db)
	d := schemafacts.Diff(exp, act)
	want := []string{"table ff_lane_registry: extra column x (TEXT)"}
	if strings.Join(d, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Diff = %q, want %q", d, want)
	}
	report, n := schemafacts.Report(exp, act)
	wantReport := "~ table ff_lane_registry: 1 difference(s)\n" +
		"    extra column x (TEXT)\n" +
		"schema parity: 33/34 tables identical, 1 differences\n"
	if n != 1 || report != wantReport {
		t.Fatalf("Report = %d, %q; want 1, %q", n, report, wantReport)
	}
}

func TestDiffKinds(t *testing.T) {
	t.Parallel()
	exp := expectedFacts(t)
	act := expectedFacts(t)
	// Drop a table, rename an index, change a column, flip a flag, change
	// a CHECK and add a view.
	var kept []schemafacts.Table
	for _, tb := range act.Tables {
		if tb.Name == "ff_stream_meta" {
			continue
		}
		switch tb.Name {
		case "ff_claim_grant":
			tb.Checks = []schemafacts.Check{{Column: ptr("kind"), Expr: "kind in('claim')"}}
		case "ff_lane_registry":
			tb.Columns = append([]schemafacts.Column(nil), tb.Columns...)
			tb.Columns[1].Notnull = 0
		case "ff_signal_event":
			tb.Autoincrement = false
			tb.Indexes = append([]schemafacts.Index(nil), tb.Indexes...)
			tb.Indexes[0].Where = ptr("instance_tag is null")
		case "ff_worker_registry_event":
			tb.ColumnOrder = []string{"namespace", "worker_instance_id", "event_at_ms", "event_kind", "reason"}
		}
		kept = append(kept, tb)
	}
	act.Tables = kept
	act.Views = append(act.Views, schemafacts.View{Name: "v", SQL: ptr("create view v as select 1")})

	got := schemafacts.Diff(exp, act)
	want := []string{
		"missing table ff_stream_meta (6 columns)",
		"table ff_claim_grant: missing check column kind CHECK (kind in('claim', 'reclaim'))",
		"table ff_claim_grant: extra check column kind CHECK (kind in('claim'))",
		"table ff_lane_registry: column registered_at_ms: notnull expected 1, actual 0",
		"table ff_signal_event: autoincrement: expected true, actual false",
		"table ff_signal_event: index ff_signal_event_instance_tag_idx: where differs\n" +
			"      expected ff_signal_event_instance_tag_idx(partition_key, instance_tag) origin=c WHERE instance_tag is not null\n" +
			"      actual   ff_signal_event_instance_tag_idx(partition_key, instance_tag) origin=c WHERE instance_tag is null",
		"table ff_worker_registry_event: column order differs:\n" +
			"      expected namespace, worker_instance_id, event_kind, event_at_ms, reason\n" +
			"      actual   namespace, worker_instance_id, event_at_ms, event_kind, reason",
		"extra view v: create view v as select 1",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("Diff =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	_, n := schemafacts.Report(exp, act)
	if n != len(want) {
		t.Fatalf("Report counted %d differences, want %d", n, len(want))
	}
}

func ptr(s string) *string { return &s }
