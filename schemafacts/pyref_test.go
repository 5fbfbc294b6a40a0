package schemafacts

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// pyRefScript runs schema_facts.py's norm / parse_table_sql / partial_where
// / index_key_sql on a JSON list of strings read from stdin.
const pyRefScript = `
import json, sys
sys.path.insert(0, sys.argv[1])
import schema_facts as s
out = []
for x in json.load(sys.stdin):
    p = s.parse_table_sql(x)
    out.append({"norm": s.norm(x), "checks": p["checks"], "generated": p["generated"],
                "autoincrement": p["autoincrement"], "without_rowid": p["without_rowid"],
                "strict": p["strict"], "where": s.partial_where(x), "key_sql": s.index_key_sql(x)})
json.dump(out, sys.stdout)
`

// pyRefResult is one result of pyRefScript.
type pyRefResult struct {
	Norm          string            `json:"norm"`
	Checks        []Check           `json:"checks"`
	Generated     map[string]string `json:"generated"`
	Autoincrement bool              `json:"autoincrement"`
	WithoutRowid  bool              `json:"without_rowid"`
	Strict        bool              `json:"strict"`
	Where         *string           `json:"where"`
	KeySQL        *string           `json:"key_sql"`
}

// pieces are the fragments the random corpus is built from: quoting,
// comments, numbers, operators, keywords and awkward Unicode.
var pieces = []string{
	"CREATE", "TABLE", "INDEX", "t", "(", ")", "((", "))", ",", " ", "  ", "\n", "\t",
	"'", "''", "'x'", "\"", "\"\"", "\"a b\"", "`", "``", "[", "]", "[c d]",
	"x'", "X'0a'", "x'zz'", "0x1F", "1", "1.", "1.5e", "e+", "e-3", ".5", "٣",
	"+", "-", "--", "/*", "*/", "*", "/", "%", "||", "->>", "->", "<<", ">>", "<=", ">=",
	"==", "!=", "<>", "=", "<", ">", "!", "~", "&", "|", ";", ".", "?", ":", "@", "$", "#",
	"^", "{", "}", "\\",
	"CHECK", "check", "CONSTRAINT", "cn", "AS", "as", "WHERE", "where", "ON", "on",
	"AUTOINCREMENT", "WITHOUT", "ROWID", "STRICT", "PRIMARY", "KEY", "UNIQUE", "FOREIGN",
	"DEFAULT", "GENERATED", "ALWAYS", "NOT", "NULL", "IN",
	"a", "B", "_", "col", "Σ", "ΑΣ", "ΑΣ'", "Σ.", "İ", "ß", "ǅ", "\u0345", "\u00a0", "\x1c",
	"\u2028", "é", "😀", "a\u00adΣ",
}

// pyCorpus returns fixed tricky inputs, every migration file, and a
// deterministic random mix of pieces.
func pyCorpus(t *testing.T) []string {
	corpus := []string{
		"", "CREATE TABLE t (a INTEGER CHECK (a > 0), CONSTRAINT c CHECK (a < 9)) WITHOUT ROWID",
		"CREATE INDEX i ON t (lower(a)) WHERE a IS NOT NULL;", "'a''b", "\"ab\n\"", "\"ab\n\n\"",
		"CREATE TABLE t (g AS (a+1), CHECK)", "CREATE TABLE t (", "CREATE TABLE t (a CHECK (",
	}
	files, _ := filepath.Glob("../migrations/*.sql")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		corpus = append(corpus, string(b))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 3000 {
		var b strings.Builder
		for range 1 + r.IntN(30) {
			b.WriteString(pieces[r.IntN(len(pieces))])
			if r.IntN(3) == 0 {
				b.WriteByte(' ')
			}
		}
		corpus = append(corpus, b.String())
	}
	return corpus
}

// TestAgainstPythonReference differentially tests the tokenizer, the
// normalizer and the SQL parsers against schema_facts.py itself.
func TestAgainstPythonReference(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "shared", "tools")
	if _, err := os.Stat(filepath.Join(dir, "schema_facts.py")); err != nil {
		t.Skipf("reference extractor not available: %v", err)
	}
	python, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not installed")
	}
	corpus := pyCorpus(t)
	in, err := json.Marshal(corpus)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, "-c", pyRefScript, dir)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	var want []pyRefResult
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	if len(want) != len(corpus) {
		t.Fatalf("python returned %d results for %d inputs", len(want), len(corpus))
	}
	failures := 0
	for i, x := range corpus {
		p := parseTableSQL(x)
		got := pyRefResult{
			Norm: Normalize(x), Checks: p.checks, Generated: p.generated,
			Autoincrement: p.autoincrement, WithoutRowid: p.withoutRowid, Strict: p.strict,
			Where: partialWhere(&x), KeySQL: indexKeySQL(&x),
		}
		if want[i].Checks == nil {
			want[i].Checks = []Check{}
		}
		if !reflect.DeepEqual(got, want[i]) {
			gj, _ := json.Marshal(got)
			wj, _ := json.Marshal(want[i])
			t.Errorf("input %q:\n  go:     %s\n  python: %s", x, gj, wj)
			if failures++; failures > 10 {
				t.FailNow()
			}
		}
	}
}
