package retry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

// sqliteErr produces a genuine *sqlite.Error with the given primary code by
// making SQLite itself fail; extended codes are covered through real locks.
func realBusyError(t *testing.T) error {
	t.Helper()
	path := filepath.Join(t.TempDir(), "busy.db")
	a, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	ctx := context.Background()
	if _, err := a.ExecContext(ctx, "CREATE TABLE t(x)"); err != nil {
		t.Fatal(err)
	}
	ca, _ := a.Conn(ctx)
	defer ca.Close()
	if _, err := ca.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		t.Fatal(err)
	}
	defer ca.ExecContext(ctx, "ROLLBACK")
	_, err = b.ExecContext(ctx, "INSERT INTO t VALUES (1)")
	if err == nil {
		t.Fatal("expected a busy error")
	}
	return err
}

func realConstraintError(t *testing.T) error {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+t.Name()+"?mode=memory")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	db.ExecContext(ctx, "CREATE TABLE t(x PRIMARY KEY)")
	db.ExecContext(ctx, "INSERT INTO t VALUES (1)")
	_, err = db.ExecContext(ctx, "INSERT INTO t VALUES (1)")
	if err == nil {
		t.Fatal("expected a constraint error")
	}
	return err
}

func TestIsRetryableBusyRealErrors(t *testing.T) {
	t.Parallel()
	busy := realBusyError(t)
	if !IsRetryableBusy(busy) {
		t.Fatalf("real busy error %v not retryable", busy)
	}
	if !IsRetryableBusy(fmt.Errorf("claim: %w", busy)) {
		t.Fatal("wrapped busy error not retryable")
	}
	if c := realConstraintError(t); IsRetryableBusy(c) {
		t.Fatalf("constraint error %v classified retryable", c)
	}
}

func TestIsRetryableBusyCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		code int
		want bool
	}{
		{"BUSY", 5, true},
		{"BUSY_RECOVERY", 261, true},
		{"BUSY_SNAPSHOT", 517, true},
		{"BUSY_TIMEOUT", 773, true},
		{"LOCKED", 6, true},
		{"LOCKED_SHAREDCACHE", 262, true},
		{"LOCKED_VTAB", 518, true},
		{"CORRUPT", 11, false},
		{"FULL", 13, false},
		{"MISUSE", 21, false},
		{"IOERR_READ", 266, false},
		{"CONSTRAINT_UNIQUE", 2067, false},
		{"ERROR", 1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := newSQLiteError(tc.code)
			if got := IsRetryableBusy(err); got != tc.want {
				t.Fatalf("code %d: got %v want %v", tc.code, got, tc.want)
			}
			if got := IsRetryableBusy(fmt.Errorf("op: %w", err)); got != tc.want {
				t.Fatalf("wrapped code %d: got %v want %v", tc.code, got, tc.want)
			}
		})
	}
	for _, err := range []error{nil, sql.ErrNoRows, context.Canceled, errors.New("database is locked")} {
		if IsRetryableBusy(err) {
			t.Fatalf("%v classified retryable", err)
		}
	}
}

// recordingSleeper records requested pauses instead of sleeping.
type recordingSleeper struct{ pauses []time.Duration }

func (r *recordingSleeper) sleep(ctx context.Context, d time.Duration) error {
	r.pauses = append(r.pauses, d)
	return ctx.Err()
}

func TestSerializable(t *testing.T) {
	t.Parallel()
	busy := newSQLiteError(517)
	other := newSQLiteError(2067)
	cases := []struct {
		name       string
		errs       []error // error returned by call i; missing = nil
		wantCalls  int
		wantErr    error
		wantPauses []time.Duration
	}{
		{"ok first", nil, 1, nil, nil},
		{"busy then ok", []error{busy}, 2, nil, []time.Duration{5 * time.Millisecond}},
		{"busy twice then ok", []error{busy, busy}, 3, nil, []time.Duration{5 * time.Millisecond, 10 * time.Millisecond}},
		{"exhausted", []error{busy, busy, busy}, 3, busy, []time.Duration{5 * time.Millisecond, 10 * time.Millisecond}},
		{"non retryable", []error{other}, 1, other, nil},
		{"busy then non retryable", []error{busy, other}, 2, other, []time.Duration{5 * time.Millisecond}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls int
			rs := &recordingSleeper{}
			err := SerializableWith(context.Background(), rs.sleep, func(context.Context) error {
				calls++
				if calls-1 < len(tc.errs) {
					return tc.errs[calls-1]
				}
				return nil
			})
			if err != tc.wantErr {
				t.Fatalf("err = %v, want %v (returned unchanged)", err, tc.wantErr)
			}
			if calls != tc.wantCalls {
				t.Fatalf("calls = %d, want %d", calls, tc.wantCalls)
			}
			if fmt.Sprint(rs.pauses) != fmt.Sprint(tc.wantPauses) {
				t.Fatalf("pauses = %v, want %v", rs.pauses, tc.wantPauses)
			}
		})
	}
}

func TestSerializableStopsOnCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	busy := newSQLiteError(5)
	var calls int
	err := SerializableWith(ctx, func(ctx context.Context, d time.Duration) error {
		cancel()
		return ctx.Err()
	}, func(context.Context) error {
		calls++
		return busy
	})
	if calls != 1 || err != busy {
		t.Fatalf("calls=%d err=%v; want 1 call and the busy error", calls, err)
	}
}

func TestSerializableRealBusyRecovers(t *testing.T) {
	t.Parallel()
	busy := realBusyError(t)
	var calls int
	err := Serializable(context.Background(), func(context.Context) error {
		calls++
		if calls == 1 {
			return busy
		}
		return nil
	})
	if err != nil || calls != 2 {
		t.Fatalf("err=%v calls=%d", err, calls)
	}
}
