package dblock

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func newDB(t *testing.T) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "ff.db")
	if err := os.WriteFile(db, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestSharedHoldersBlockExclusiveAndAreNamed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	serve, err := Register(ctx, db, Me("serve", "127.0.0.1:9090"), true)
	if err != nil {
		t.Fatal(err)
	}
	scan, err := Register(ctx, db, Me("scan", ""), false) // scan beside serve is fine
	if err != nil {
		t.Fatal(err)
	}
	m, err := LockMigration(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	_, err = m.Exclusive()
	var busy *BusyError
	if !errors.As(err, &busy) || len(busy.Holders) != 2 || busy.Holders[0].Command != "serve" || busy.Holders[0].Addr != "127.0.0.1:9090" ||
		busy.Holders[1].Command != "scan" || busy.Holders[0].PID != os.Getpid() {
		t.Fatalf("exclusive beside two holders: %v %+v", err, busy)
	}
	m.Release()
	// A second serve is refused and leaves no record.
	_, err = Register(ctx, db, Me("serve", "127.0.0.1:9091"), true)
	var se *ServingError
	if !errors.As(err, &se) || se.Holder.Addr != "127.0.0.1:9090" {
		t.Fatalf("second serve: %v", err)
	}
	if hs := Holders(db); len(hs) != 2 {
		t.Fatalf("holders after the refused serve: %+v", hs)
	}
	// Released holders take their records with them.
	serve.Release()
	scan.Release()
	if hs := Holders(db); len(hs) != 0 {
		t.Fatalf("holders after release: %+v", hs)
	}
	m, _ = LockMigration(ctx, db)
	x, err := m.Exclusive()
	if err != nil {
		t.Fatalf("exclusive once everyone left: %v", err)
	}
	// While a destructive command holds it, nobody can register.
	m2, ok, err := TryLockMigration(db)
	if ok || err != nil || m2 != nil {
		t.Fatalf("migration lock taken twice: %v %v", ok, err)
	}
	x.Release()
	m.Release()
}

func TestRecordsOfDeadProcessesAreIgnored(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := newDB(t)
	// A record left by a process that died (its flock went with it).
	dead := Holder{PID: 1 << 30, Command: "serve", Addr: "127.0.0.1:1", Token: "x"}
	line, _ := json.Marshal(dead)
	os.WriteFile(LockFile(db), append(line, '\n'), 0o644)
	sh, err := Register(ctx, db, Me("serve", "127.0.0.1:2"), true)
	if err != nil {
		t.Fatalf("serve refused by a dead record: %v", err)
	}
	defer sh.Release()
	if hs := Holders(db); len(hs) != 1 || hs[0].Addr != "127.0.0.1:2" {
		t.Fatalf("holders %+v", hs)
	}
}
