package schemafacts

import (
	"reflect"
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"  SELECT   1  ", "select 1"},
		{"CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)", "cast((julianday('now') - 2440587.5) * 86400000 as integer)"},
		{"kind IN ('claim', 'reclaim')", "kind in('claim', 'reclaim')"},
		{"singleton_lock = 1", "singleton_lock = 1"},
		{"lease_expires_at_ms IS NOT NULL", "lease_expires_at_ms is not null"},
		{"'MiXeD Case' || X", "'MiXeD Case' || x"},
		{"'it''s'", "'it''s'"},
		{"a -- trailing comment\n + b", "a + b"},
		{"a /* block */ + /* unterminated", "a +"},
		{`"simple_Ident" + [br] + ` + "`bq`", "simple_ident + br + bq"},
		{`"needs quoting" + "a""b"`, `"needs quoting" + "a""b"`},
		{`"MiXed Space"`, `"mixed space"`},
		{"t . col", "t.col"},
		{"f ( a , b )", "f(a, b)"},
		{"X'DEADbeef'", "x'deadbeef'"},
		{"0x1F", "0 x1f"},
		{"1.5e+10 + .5 + 3. + 1e", "1.5e+10 + .5 + 3. + 1 e"},
		{"a->>'$.x' <> b->c", "a ->> '$.x' <> b -> c"},
		{"a<<=b", "a << = b"},
		{"x;", "x;"},
		{"'unterminated", "' unterminated"},
		{"'a''b", "'a' ' b"},
		{"?1 :name @v $x #", "? 1 : name @ v $ x #"},
		{"a^b{c}", "a ^ b { c }"},
		{"ÄBC ΟΔΟΣ İ", "äbc οδος i̇"},
		{"\x1cA\u00a0B \x1dC", "a\u00a0b c"},
	}
	for _, tt := range tests {
		if got := Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestTokenize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []token
	}{
		{"a.b", []token{{tokWord, "a"}, {tokOp, "."}, {tokWord, "b"}}},
		{"x'0A' X'zz'", []token{{tokBlob, "x'0A'"}, {tokWord, "X"}, {tokString, "'zz'"}}},
		{`"x y" "ab"`, []token{{tokQIdent, `"x y"`}, {tokWord, "ab"}}},
		{"`a``b`", []token{{tokQIdent, "\"a`b\""}}},
		{"[a b", []token{{tokOp, "["}, {tokWord, "a"}, {tokWord, "b"}}},
		{"1.e5", []token{{tokNum, "1.e5"}}},
		{"-- only a comment", nil},
		{"a$b c$", []token{{tokWord, "a$b"}, {tokWord, "c$"}}},
		{"->>->", []token{{tokOp, "->>"}, {tokOp, "->"}}},
		{"\"ab\n\"", []token{{tokWord, "ab\n"}}},
	}
	for _, tt := range tests {
		if got := tokenize(tt.in); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("tokenize(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseTableSQL(t *testing.T) {
	t.Parallel()
	sql := `CREATE TABLE "t" (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		kind TEXT NOT NULL CONSTRAINT kind_ck CHECK (kind IN ('a', 'b')),
		n INTEGER DEFAULT (1 + 2) CHECK(n > 0),
		g INTEGER GENERATED ALWAYS AS (n * 2) STORED,
		CONSTRAINT pair CHECK (n < 10 AND kind <> 'c'),
		CHECK (id > 0)
	) WITHOUT ROWID, STRICT`
	got := parseTableSQL(sql)
	if !got.autoincrement || !got.withoutRowid || !got.strict {
		t.Errorf("flags = %v/%v/%v, want all true", got.autoincrement, got.withoutRowid, got.strict)
	}
	want := []Check{
		{Column: nil, Name: nil, Expr: "id > 0"},
		{Column: nil, Name: ptr("pair"), Expr: "n < 10 and kind <> 'c'"},
		{Column: ptr("kind"), Name: ptr("kind_ck"), Expr: "kind in('a', 'b')"},
		{Column: ptr("n"), Name: nil, Expr: "n > 0"},
	}
	if !reflect.DeepEqual(got.checks, want) {
		t.Errorf("checks = %+v, want %+v", got.checks, want)
	}
	if g := got.generated["g"]; g != "n * 2" {
		t.Errorf("generated[g] = %q", g)
	}
	if empty := parseTableSQL(""); len(empty.checks) != 0 || empty.autoincrement {
		t.Errorf("parseTableSQL(\"\") = %+v", empty)
	}
}

func TestIndexSQL(t *testing.T) {
	t.Parallel()
	sql := "CREATE INDEX i ON t (a, lower(b) DESC) WHERE (x) IS NOT NULL AND y IN (1, 2);;"
	if w := partialWhere(&sql); w == nil || *w != "(x) is not null and y in(1, 2)" {
		t.Errorf("partialWhere = %v", w)
	}
	if k := indexKeySQL(&sql); k == nil || *k != "a, lower(b) desc" {
		t.Errorf("indexKeySQL = %v", k)
	}
	plain := "CREATE INDEX i ON t (a)"
	if w := partialWhere(&plain); w != nil {
		t.Errorf("partialWhere(no WHERE) = %q", *w)
	}
	if partialWhere(nil) != nil || indexKeySQL(nil) != nil {
		t.Error("nil SQL must give nil")
	}
}
