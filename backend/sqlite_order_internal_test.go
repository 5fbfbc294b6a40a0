package backend

import (
	"math"
	"slices"
	"testing"
)

// TestSQLiteCompareIsSQLitesOrder sorts a mix of every storage class
// with sqliteCompare and with SQLite's ORDER BY (a column without type
// affinity, so each value keeps its class), and wants the same order.
func TestSQLiteCompareIsSQLitesOrder(t *testing.T) {
	t.Parallel()
	b := gcOpen(t, Options{})
	values := []any{
		int64(5), 2.5, int64(2), int64(3), -0.5, int64(-1), int64(0), 0.0, 1e300, -1e300,
		int64(math.MaxInt64), int64(math.MinInt64), 9.2233720368547758e18, -9.2233720368547758e18,
		float64(1 << 53), int64(1<<53 + 1), int64(1 << 53), 2.0,
		"high", "", "a", "B", "é", []byte{}, []byte{0}, []byte("high"), nil,
	}
	var want []int
	if err := b.write(gcCtx, "order", func(w *wtx) error {
		if _, err := w.exec(`CREATE TEMP TABLE ord (i INTEGER, v)`); err != nil {
			return err
		}
		for i, v := range values {
			if _, err := w.exec(`INSERT INTO ord VALUES (?1, ?2)`, i, v); err != nil {
				return err
			}
		}
		rows, err := w.QueryContext(w.ctx, `SELECT i FROM ord ORDER BY v, i`)
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var i int
			if err := rows.Scan(&i); err != nil {
				return err
			}
			want = append(want, i)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = w.exec(`DROP TABLE temp.ord`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	got := make([]int, len(values))
	for i := range got {
		got[i] = i
	}
	slices.SortStableFunc(got, func(x, y int) int { return sqliteCompare(values[x], values[y]) })
	if !slices.Equal(got, want) {
		show := func(order []int) []any {
			out := make([]any, len(order))
			for i, j := range order {
				out[i] = values[j]
			}
			return out
		}
		t.Fatalf("sqliteCompare orders\n %v\nSQLite orders\n %v", show(got), show(want))
	}
}
