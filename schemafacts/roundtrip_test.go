package schemafacts_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/ffsqlite/ffsqlite/migrations"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

func TestDownToZeroAndUpAgain(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, _, p := migratedDB(t)
	if _, err := p.DownTo(ctx, 0); err != nil {
		t.Fatalf("down to 0: %v", err)
	}
	if f := collect(t, db); len(f.Tables) != 0 || len(f.Triggers) != 0 || len(f.Views) != 0 {
		t.Fatalf("after down to 0: %d tables, %d triggers, %d views left", len(f.Tables), len(f.Triggers), len(f.Views))
	}
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("after down to 0: %d explicit indexes left (err %v)", n, err)
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatalf("up again: %v", err)
	}
	requireMatchesExpected(t, collect(t, db))
}

// TestEachDownStep checks, for every version v, that DownTo(v) from the
// latest schema gives exactly the schema of a fresh UpTo(v), with the
// annotation rows of the versions <= v, and that UpTo(latest) afterwards
// gives schema.json again.
func TestEachDownStep(t *testing.T) {
	t.Parallel()
	for _, v := range append([]int64{0}, migrations.Versions()...) {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()

			freshDB, _ := openDB(t)
			if v > 0 {
				if _, err := newProvider(t, freshDB).UpTo(ctx, v); err != nil {
					t.Fatalf("fresh up to %d: %v", v, err)
				}
			}
			want := collect(t, freshDB)

			db, _, p := migratedDB(t)
			if _, err := p.DownTo(ctx, v); err != nil {
				t.Fatalf("down to %d: %v", v, err)
			}
			if cur, err := p.GetDBVersion(ctx); err != nil || cur != v {
				t.Fatalf("db version after down to %d = %d (err %v)", v, cur, err)
			}
			got := collect(t, db)
			if d := schemafacts.Diff(want, got); len(d) != 0 {
				t.Fatalf("down to %d differs from fresh up to %d:\n%v", v, v, d)
			}
			wantJSON, _ := want.JSON()
			gotJSON, _ := got.JSON()
			requireSameJSON(t, fmt.Sprintf("fresh up to %d", v), wantJSON, fmt.Sprintf("down to %d", v), gotJSON)
			if v > 0 {
				var wantAnn []int64
				for _, a := range migrations.AnnotatedVersions() {
					if a <= v {
						wantAnn = append(wantAnn, a)
					}
				}
				var gotAnn []int64
				for _, a := range annotations(t, db) {
					gotAnn = append(gotAnn, a.version)
				}
				if !slices.Equal(gotAnn, wantAnn) {
					t.Fatalf("annotations after down to %d = %v, want %v", v, gotAnn, wantAnn)
				}
			}

			if _, err := p.UpTo(ctx, migrations.LatestVersion); err != nil {
				t.Fatalf("up from %d to latest: %v", v, err)
			}
			requireMatchesExpected(t, collect(t, db))
		})
	}
}
