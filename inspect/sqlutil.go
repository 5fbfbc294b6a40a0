package inspect

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strings"
)

// partitionsOf is a subquery listing every distinct partition_key of table
// among rows matching cond, by index seeks (a loose index scan over an
// index whose first column is partition_key), so lookups that do not know
// the partition still use the partition-led indexes (docs/storage.md:
// every value is enumerated, never assumed).
func partitionsOf(table, cond string) string {
	where := ""
	if cond != "" {
		where = " AND " + cond
	}
	return fmt.Sprintf(`(WITH RECURSIVE pk(k) AS (
		SELECT (SELECT min(partition_key) FROM %[1]s WHERE 1%[2]s)
		UNION ALL
		SELECT (SELECT min(partition_key) FROM %[1]s WHERE partition_key > pk.k%[2]s) FROM pk WHERE pk.k IS NOT NULL
	) SELECT k FROM pk WHERE k IS NOT NULL)`, table, where)
}

func nullInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	v := n.Int64
	return &v
}

func nullStr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	v := s.String
	return &v
}

// rawJSON returns s as JSON when it is valid JSON, else as a JSON string;
// nil (JSON null) when s is NULL.
func rawJSON(s sql.NullString) json.RawMessage {
	if !s.Valid {
		return nil
	}
	if json.Valid([]byte(s.String)) {
		return json.RawMessage(s.String)
	}
	b, _ := json.Marshal(s.String)
	return b
}

// fields decodes a raw_fields JSON object; a malformed value yields an
// empty map.
func fields(s string) map[string]any {
	m := map[string]any{}
	d := json.NewDecoder(strings.NewReader(s))
	d.UseNumber()
	_ = d.Decode(&m)
	return m
}

func fieldStr(m map[string]any, k string) *string {
	v, ok := m[k]
	if !ok || v == nil {
		return nil
	}
	s, ok := v.(string)
	if !ok {
		s = fmt.Sprint(v)
	}
	return &s
}

func fieldInt(m map[string]any, k string) *int64 {
	n, ok := m[k].(json.Number)
	if !ok {
		return nil
	}
	if v, err := n.Int64(); err == nil {
		return &v
	}
	if f, err := n.Float64(); err == nil {
		v := int64(f)
		return &v
	}
	return nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
