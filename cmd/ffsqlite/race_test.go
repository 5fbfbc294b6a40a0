package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ffsqlite/ffsqlite/dblock"
	"github.com/ffsqlite/ffsqlite/schemafacts"
)

// Two `init` or two `migrate up` on a file that does not exist yet both
// succeed: the migration lock is taken before anything is written (the
// switch to WAL included), so the second waits and reports the version
// the first reached.
func TestTwoProcessesOnAFreshFile(t *testing.T) {
	t.Parallel()
	for _, cmd := range [][]string{{"init", "--json"}, {"migrate", "up", "--json"}} {
		t.Run(cmd[0], func(t *testing.T) {
			t.Parallel()
			for round := range 20 {
				db := filepath.Join(t.TempDir(), "ff.db")
				var wg sync.WaitGroup
				outs, errs, codes := make([]string, 2), make([]string, 2), make([]int, 2)
				for i := range 2 {
					wg.Go(func() { outs[i], errs[i], codes[i] = runBin(t, nil, append(cmd, "--db", db)...) })
				}
				wg.Wait()
				applied := 0
				for i := range 2 {
					if codes[i] != 0 {
						t.Fatalf("round %d process %d: exit %d: %s", round, i, codes[i], errs[i])
					}
					var r struct {
						Results []json.RawMessage `json:"results"`
						Applied int               `json:"migrations_applied"`
						Version int64             `json:"current_version"`
						Schema  int64             `json:"schema_version"`
					}
					if err := json.Unmarshal([]byte(outs[i]), &r); err != nil {
						t.Fatalf("round %d: %v %q", round, err, outs[i])
					}
					applied += len(r.Results) + r.Applied
					if r.Version+r.Schema != 22 {
						t.Fatalf("round %d process %d reports version %d", round, i, r.Version+r.Schema)
					}
				}
				if applied != 20 {
					t.Fatalf("round %d: %d migrations applied in total, want 20", round, applied)
				}
				got, v := fileFacts(t, db)
				if d := schemafacts.Diff(parityTarget(t), got); v != 22 || len(d) > 0 {
					t.Fatalf("round %d: version %d, %s", round, v, strings.Join(d, "; "))
				}
				assertLedgersInStep(t, db, fmt.Sprintf("round %d", round))
			}
		})
	}
}

// Deterministic form of the race: while another process holds the
// migration lock, `migrate up` on a fresh (empty) file waits without
// writing anything, then completes once the lock is free.
func TestMigrateWaitsForTheLockBeforeWriting(t *testing.T) {
	t.Parallel()
	for _, cmd := range []string{"init", "migrate up"} {
		t.Run(cmd, func(t *testing.T) {
			t.Parallel()
			db := filepath.Join(t.TempDir(), "ff.db")
			if err := os.WriteFile(db, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			held, err := dblock.LockMigration(context.Background(), db)
			if err != nil {
				t.Fatal(err)
			}
			p := binCmd(t, nil, append(strings.Fields(cmd), "--db", db)...)
			stderr, _ := p.StderrPipe()
			if err := p.Start(); err != nil {
				t.Fatal(err)
			}
			waiting := waitLine(t, stderr, "waiting for the migration lock")
			awaitLine(t, waiting, "the waiting line")
			if st, err := os.Stat(db); err != nil || st.Size() != 0 {
				t.Fatalf("the file was written before the lock was held: %v %v", st.Size(), err)
			}
			if _, err := os.Stat(db + "-wal"); err == nil {
				t.Fatal("a WAL was created before the lock was held")
			}
			held.Release()
			if err := p.Wait(); err != nil {
				t.Fatalf("%s after the lock was released: %v", cmd, err)
			}
			if _, v := fileFacts(t, db); v != 22 {
				t.Fatalf("version %d", v)
			}
		})
	}
}
