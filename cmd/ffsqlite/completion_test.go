package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// findShell returns the named shell, skipping without it locally; in CI
// (scripts/ci-deps.sh installs bash and zsh) a missing shell fails.
func findShell(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("no %s on PATH in CI: scripts/ci-deps.sh must install it", name)
	}
	t.Skipf("%s completion test skipped: no %s on PATH (apt-get install %s)", name, name, name)
	return ""
}

// ffsqliteOnPath makes a directory holding an executable named ffsqlite
// that runs this test binary as the ffsqlite binary.
func ffsqliteOnPath(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	script := fmt.Sprintf("#!/bin/sh\n%s=1 NO_COLOR=1 exec %q \"$@\"\n", reexecEnv, exe)
	if err := os.WriteFile(filepath.Join(dir, "ffsqlite"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runShell runs a script in the shell with the ffsqlite wrapper first on
// PATH and returns its output.
func runShell(t *testing.T, shell string, args []string, script string) string {
	t.Helper()
	dir := ffsqliteOnPath(t)
	path := filepath.Join(t.TempDir(), "drive")
	if err := os.WriteFile(path, []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, shell, append(args, path)...)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PATH="+dir+string(os.PathListSeparator)+os.Getenv("PATH"), "HOME="+t.TempDir(), "TERM=dumb")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", shell, err, out)
	}
	return string(out)
}

// completionCases are command lines (the last word is the one being
// completed) and what completion must offer for them.
var completionCases = []struct {
	line string
	want []string // exactly these, in any order; nil: nothing
	has  []string // at least these
}{
	{line: "ffsqlite serve --li", want: []string{"--listen"}},
	{line: "ffsqlite serve --allowe", want: []string{"--allowed-hosts"}},
	{line: "ffsqlite serve --all", want: []string{"--allowed-hosts", "--allow-second-process"}},
	{line: "ffsqlite serve --", has: []string{"--listen", "--db", "--grace", "--log-level", "--allowed-hosts"}},
	{line: "ffsqlite serve -", has: []string{"--listen", "--db"}},
	{line: "ffsqlite inspect execution --d", want: []string{"--db"}},
	{line: "ffsqlite migrate up-to --db x.db --dry", want: []string{"--dry-run"}},
	{line: "ffsqlite mig", want: []string{"migrate"}},
	{line: "ffsqlite migrate up", want: []string{"up", "up-by-one", "up-to"}},
	{line: "ffsqlite inspect ex", want: []string{"execution", "executions"}},
	// After a value flag, and after "--", the shell's own (file) completion.
	{line: "ffsqlite migrate down --db "},
	{line: "ffsqlite serve -- --li"},
}

// Bash: the script, sourced in a real bash, registers its function and
// completes flags, subcommands and nothing (so -o default offers files)
// where a value or a positional argument is due, without running the
// command (no database appears).
func TestBashCompletion(t *testing.T) {
	t.Parallel()
	bash := findShell(t, "bash")
	var sb strings.Builder
	sb.WriteString(`source <(ffsqlite completion bash) || exit 1
complete -p ffsqlite
comp() { COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=(); _ffsqlite_complete; printf '%s\n' "=> ${COMPREPLY[*]}"; }
`)
	for _, c := range completionCases {
		words := strings.Split(c.line, " ")
		quoted := make([]string, len(words))
		for i, w := range words {
			quoted[i] = "'" + w + "'"
		}
		sb.WriteString("comp " + strings.Join(quoted, " ") + "\n")
	}
	out := runShell(t, bash, []string{"--norc", "--noprofile"}, sb.String())
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != len(completionCases)+1 || lines[0] != "complete -o default -F _ffsqlite_complete ffsqlite" {
		t.Fatalf("bash output:\n%s", out)
	}
	for i, c := range completionCases {
		got := strings.Fields(strings.TrimPrefix(lines[i+1], "=>"))
		checkCompletion(t, "bash", c.line, got, c.want, c.has)
	}
}

func checkCompletion(t *testing.T, shell, line string, got, want, has []string) {
	t.Helper()
	set := map[string]bool{}
	for _, g := range got {
		set[g] = true
	}
	if has != nil {
		for _, h := range has {
			if !set[h] {
				t.Errorf("%s: %q offers %q, lacking %q", shell, line, got, h)
			}
		}
		return
	}
	if len(got) != len(want) {
		t.Errorf("%s: %q offers %q, want %q", shell, line, got, want)
		return
	}
	for _, w := range want {
		if !set[w] {
			t.Errorf("%s: %q offers %q, want %q", shell, line, got, want)
		}
	}
}

// Zsh: an interactive zsh in a pseudo-terminal (zsh/zpty) loads compinit
// and the script, then TAB is pressed after each line; what the line
// became is printed by a command typed after it. A unique completion is
// inserted whole, several share their common prefix.
func TestZshCompletion(t *testing.T) {
	t.Parallel()
	zsh := findShell(t, "zsh")
	cases := []struct{ line, want string }{
		{"ffsqlite serve --li", "ffsqlite serve --listen "},
		{"ffsqlite serve --allowe", "ffsqlite serve --allowed-hosts "},
		{"ffsqlite inspect execution --d", "ffsqlite inspect execution --db "},
		{"ffsqlite migrate up-to --dry", "ffsqlite migrate up-to --dry-run "},
		{"ffsqlite mig", "ffsqlite migrate "},
		{"ffsqlite inspect executions --js", "ffsqlite inspect executions --json "},
	}
	var sb strings.Builder
	// The marker is computed by the shell, so the echo of the typed
	// command never matches it; each read waits for its line.
	sb.WriteString(`zmodload zsh/zpty || exit 1
zpty z zsh -f -i
zpty -w z 'PS1="> "; unsetopt beep; autoload -Uz compinit && compinit -u -D'
zpty -w z 'source <(ffsqlite completion zsh); print -r -- "ready=$((20+1))"'
zpty -r z out '*ready=21*'
`)
	for i, c := range cases {
		fmt.Fprintf(&sb, "zpty -w -n z %s\n", zshQuote(c.line+"\t\x01print -r -- \"=$((1000+"+fmt.Sprint(i)+"))=\" \x05\n"))
		fmt.Fprintf(&sb, "zpty -r z out '*=%d=*'$'\\n'\nprint -r -- \"case %d:${${out##*=%d=}%%%%$'\\r'*}\"\n", 1000+i, i, 1000+i)
	}
	sb.WriteString("zpty -d z\n")
	out := runShell(t, zsh, []string{"-f"}, sb.String())
	for i, c := range cases {
		prefix := fmt.Sprintf("case %d: ", i)
		var got string
		found := false
		for _, l := range strings.Split(out, "\n") {
			if s, ok := strings.CutPrefix(l, prefix); ok {
				got, found = strings.TrimRight(s, "\r\n"), true
			}
		}
		// print adds one space between the marker and the line.
		if !found || got != strings.TrimRight(c.want, " ") {
			t.Errorf("zsh: %q<TAB> became %q, want %q\n%s", c.line, got, c.want, out)
		}
	}
}

// zshQuote quotes s as a zsh $'…' string.
func zshQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\t", `\t`, "\n", `\n`, "\x01", `\x01`, "\x05", `\x05`)
	return "$'" + r.Replace(s) + "'"
}
