package backend_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// setsTerminal matches a SET list that moves an execution to terminal.
var setsTerminal = regexp.MustCompile(`(?is)\bUPDATE\s+ff_exec_core\s+SET\b.*\blifecycle_phase\s*=\s*'terminal'`)

// TestOneTerminalTransition keeps every terminal transition in
// terminal.go (wtx.terminate): the stream closing, dependency resolution
// and quota release of an ending execution hook in there, so a second
// statement that sets lifecycle_phase = 'terminal' would skip them.
func TestOneTerminalTransition(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	found := map[string]int{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			lit, ok := n.(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			s, err := strconv.Unquote(lit.Value)
			if err != nil {
				return true
			}
			set, _, _ := strings.Cut(s, "WHERE")
			if setsTerminal.MatchString(set) {
				found[f]++
			}
			return true
		})
	}
	if found["terminal.go"] != 1 || len(found) != 1 {
		t.Fatalf("statements that set lifecycle_phase = 'terminal', by file: %v; want exactly one, in terminal.go (use wtx.terminate)", found)
	}
}
