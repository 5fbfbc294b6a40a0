package writer

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

func TestCheckStatements(t *testing.T) {
	t.Parallel()
	refused := map[string]string{
		"COMMIT":                               "COMMIT",
		"commit":                               "COMMIT",
		"  \n\tCommit ;":                       "COMMIT",
		"/* note */ COMMIT":                    "COMMIT",
		"-- note; more\nCOMMIT":                "COMMIT",
		"END":                                  "END",
		"END TRANSACTION":                      "END",
		"ROLLBACK":                             "ROLLBACK",
		"ROLLBACK TO ff_group":                 "ROLLBACK",
		"BEGIN":                                "BEGIN",
		"begin immediate":                      "BEGIN",
		"SAVEPOINT x":                          "SAVEPOINT",
		"RELEASE x":                            "RELEASE",
		"RELEASE SAVEPOINT ff_group":           "RELEASE",
		"INSERT INTO t VALUES (1); COMMIT":     "COMMIT",
		"SELECT 1;COMMIT":                      "COMMIT",
		"SELECT ';'; ROLLBACK":                 "ROLLBACK",
		"INSERT INTO t VALUES (X'00'); COMMIT": "COMMIT",
		"SELECT \"a;b\" FROM t; END":           "END",
		"SELECT [x;y] FROM t; BEGIN":           "BEGIN",
		"SELECT 'it''s; fine'; COMMIT":         "COMMIT",
		"SELECT 1 /* ; */ ; /* x */ -- y\n RELEASE":                                         "RELEASE",
		"CREATE TEMP TABLE x (a); COMMIT":                                                   "COMMIT",
		"CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END; COMMIT":                   "COMMIT",
		"CREATE TEMPORARY TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END;\n\nSAVEPOINT a": "SAVEPOINT",
		"UPDATE t SET v = 'x';;; COMMIT":                                                    "COMMIT",
	}
	for q, kw := range refused {
		var tc *TxControlError
		if err := checkStatements(q); !errors.As(err, &tc) || tc.Keyword != kw {
			t.Errorf("checkStatements(%q) = %v, want %s refused", q, err, kw)
		}
	}
	allowed := []string{
		"",
		"  ;  ",
		"INSERT INTO t (id, v) VALUES (1, 'commit')",
		"SELECT 'a; COMMIT'",
		"SELECT 1 -- ; COMMIT",
		"SELECT 1 /* ; COMMIT */",
		`SELECT "end", "begin" FROM t`,
		"SELECT [commit] FROM t",
		"SELECT `rollback` FROM t",
		"UPDATE t SET v = 'x' WHERE id = 1; INSERT INTO t VALUES (2, 'y')",
		"SELECT CASE WHEN 1 THEN 2 END",
		"SELECT v AS end_time, x.begin FROM t AS x",
		"WITH c AS (SELECT 1) SELECT * FROM c",
		"CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO u VALUES (1); UPDATE u SET a = 2; END",
		"CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT CASE WHEN 1 THEN 2 END; END;",
		"CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN\n  SELECT 1;\nEND; SELECT 2",
		"EXPLAIN QUERY PLAN SELECT * FROM t",
		"INSERT INTO tä (ü) VALUES (1)",
		"SELECT 'unterminated; COMMIT",
		"SELECT 1 /* unterminated; COMMIT",
	}
	for _, q := range allowed {
		if err := checkStatements(q); err != nil {
			t.Errorf("checkStatements(%q) = %v, want allowed", q, err)
		}
	}
}

// A write function that runs transaction control, through any of its Tx's
// calls, gets a *TxControlError and nothing of the statement string runs;
// the group stays intact: every other request's work commits exactly once
// (before the check, a COMMIT inside the group committed the earlier
// requests' work, which then ran again and applied twice).
func TestTxControlRefusedInGroup(t *testing.T) {
	t.Parallel()
	logged := func(v string) Func {
		return func(ctx context.Context, tx *Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO log (v) VALUES (?)`, v)
			return err
		}
	}
	calls := map[string]func(ctx context.Context, tx *Tx, q string) error{
		"exec": func(ctx context.Context, tx *Tx, q string) error {
			_, err := tx.ExecContext(ctx, q)
			return err
		},
		"query": func(ctx context.Context, tx *Tx, q string) error {
			rows, err := tx.QueryContext(ctx, q)
			if err == nil {
				rows.Close()
			}
			return err
		},
		"queryRow": func(ctx context.Context, tx *Tx, q string) error {
			var n int
			return tx.QueryRowContext(ctx, q).Scan(&n)
		},
		"prepare": func(ctx context.Context, tx *Tx, q string) error {
			st, err := tx.PrepareContext(ctx, q)
			if err == nil {
				st.Close()
			}
			return err
		},
	}
	for name, call := range calls {
		for _, memory := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/memory=%v", name, memory), func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, opts{memory: memory})
				errs := e.batch(nil,
					logged("a"),
					func(ctx context.Context, tx *Tx) error {
						if err := logged("b")(ctx, tx); err != nil {
							return err
						}
						return call(ctx, tx, "INSERT INTO log (v) VALUES ('b2'); COMMIT")
					},
					func(ctx context.Context, tx *Tx) error {
						// Swallowing the refusal leaves a working transaction.
						var tc *TxControlError
						if err := call(ctx, tx, "/* c */ ROLLBACK"); !errors.As(err, &tc) {
							return fmt.Errorf("ROLLBACK: %v, want a TxControlError", err)
						}
						return logged("c")(ctx, tx)
					},
					logged("d"),
				)
				var got []string
				rows, err := e.reader.QueryContext(bg, `SELECT v FROM log ORDER BY seq`)
				if err != nil {
					t.Fatal(err)
				}
				defer rows.Close()
				for rows.Next() {
					var v string
					if err := rows.Scan(&v); err != nil {
						t.Fatal(err)
					}
					got = append(got, v)
				}
				if fmt.Sprint(got) != "[a c d]" {
					t.Fatalf("log %v, want [a c d]: each request's work once, nothing of the refused one", got)
				}
				var tc *TxControlError
				if errs[0] != nil || errs[2] != nil || errs[3] != nil || !errors.As(errs[1], &tc) || tc.Keyword != "COMMIT" {
					t.Fatalf("errors %v, want only the COMMIT refused", errs)
				}
			})
		}
	}
}

// EXPLAIN describes a statement without running it: the check lets
// EXPLAIN COMMIT through, and it commits nothing.
func TestExplainControlRunsNothing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, opts{})
	errBoom := errors.New("boom")
	err := e.w.Write(bg, func(ctx context.Context, tx *Tx) error {
		if err := insert(1)(ctx, tx); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, "EXPLAIN COMMIT")
		if err != nil {
			return err
		}
		rows.Close()
		return errBoom // rolls back: the insert must not have been committed
	})
	if !errors.Is(err, errBoom) {
		t.Fatal(err)
	}
	if got := e.ids(); got != "[]" {
		t.Fatalf("committed ids %s, want none", got)
	}
}

// BenchmarkCheckStatements: the check of a statement string that is not
// cached (every statement on a memory database, the non-hot ones on a
// file), on a statement the size of the engine's larger ones, alone and
// followed by a second statement (which takes the full split).
func BenchmarkCheckStatements(b *testing.B) {
	b.Run("one", func(b *testing.B) { benchCheck(b, benchStmt) })
	b.Run("two", func(b *testing.B) { benchCheck(b, benchStmt+"; "+benchStmt) })
}

func benchCheck(b *testing.B, q string) {
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		if err := checkStatements(q); err != nil {
			b.Fatal(err)
		}
	}
}

const benchStmt = `UPDATE ff_exec_core SET lifecycle_phase = 'active', ownership_state = 'leased',
		eligibility_state = 'not_applicable', attempt_state = 'running_attempt',
		public_state = 'active', current_attempt_index = ?, lease_epoch = lease_epoch + 1,
		current_lease_id = ?, current_worker_instance_id = ?, lease_expires_at_ms = ?,
		started_at_ms = COALESCE(started_at_ms, ?), raw_fields = json_set(raw_fields, '$.claimed', 'yes')
		WHERE partition_key = ? AND execution_id = ? AND lifecycle_phase = 'runnable'
		RETURNING lease_epoch, current_attempt_index`
