package main

import (
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
)

// errorLines drops the log lines (the banner, text or JSON) from stderr.
func errorLines(stderr string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSuffix(stderr, "\n"), "\n") {
		if l == "" || strings.Contains(l, " level=") || strings.HasPrefix(l, "{") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// hintCommand matches each "ffsqlite …" command a hint names; its words up
// to the first flag, argument placeholder or punctuation are command names.
var hintCommand = regexp.MustCompile("ffsqlite((?: [a-z][a-z-]*)*)")

// checkHintCommands fails unless every ffsqlite command a hint names
// exists (its --help exits 0).
func checkHintCommands(t *testing.T, hint string) {
	t.Helper()
	for _, m := range hintCommand.FindAllStringSubmatch(hint, -1) {
		words := strings.Fields(m[1])
		// Stop at the first word that is not a command of the path so far
		// (an argument such as "bash" in "completion bash").
		app := newApp(io.Discard, io.Discard)
		cmds, path := app.Commands, []string{}
		for _, w := range words {
			cmd := findCommand(cmds, w)
			if cmd == nil {
				break
			}
			path, cmds = append(path, w), cmd.Subcommands
		}
		if (len(path) == 0 && len(words) > 0) || (len(path) < len(words) && len(cmds) > 0) {
			t.Errorf("hint %q names %q, which is not a command", hint, "ffsqlite"+m[1])
			continue
		}
		if _, errOut, code := runCLI(t, append(path, "--help")...); code != 0 {
			t.Errorf("hint %q: ffsqlite %s --help exits %d: %s", hint, strings.Join(path, " "), code, errOut)
		}
	}
}

// The audit of cmd/ffsqlite's error paths: every failure prints one error
// line and one "Try:" line whose commands exist, whatever the error: usage
// errors, bad databases, engine refusals, migrations with nothing left to
// do, and errors no rule knows (they point at the command's --help).
func TestEveryErrorHasATryLine(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	latest := filepath.Join(dir, "latest.db")
	zero := filepath.Join(dir, "zero.db")
	for _, p := range []string{latest, zero} {
		if _, errOut, code := runCLI(t, "init", "--db", p); code != 0 {
			t.Fatal(errOut)
		}
	}
	if _, errOut, code := runCLI(t, "migrate", "reset", "--db", zero); code != 0 {
		t.Fatal(errOut)
	}
	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, []byte("plain text, not SQLite\n"), 0o644)
	// A table in the way of migration 1, with no ledger: migrating fails
	// with an error no rule knows.
	clash := filepath.Join(dir, "clash.db")
	raw, err := sql.Open("sqlite", clash)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec("CREATE TABLE ff_exec_core (x)"); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	const eid = "{fp:0}:6a0c2b9e-1f4d-4e7a-9b3c-2d5e8f1a0b7c"

	cases := [][]string{
		// Usage.
		{"frobnicate"},
		{"inspect", "frobnicate"},
		{"migrate"},
		{"migrate", "status", "--no-such-flag"},
		{"inspect", "execution", "--bogus"},
		{"init", "--log-level", "loud", "--db", ":memory:"},
		{"init", "--log-format", "xml", "--db", ":memory:"},
		{"init", "--pool-size", "0", "--db", ":memory:"},
		{"inspect", "--color", "rainbow", "--db", latest},
		{"completion", "fish"},
		{"serve", "extra-arg"},
		{"migrate", "up-to", "--db", latest},
		{"migrate", "up-to", "x", "--db", latest},
		{"migrate", "up-to", "9999", "--db", latest},
		{"inspect", "execution"},
		{"inspect", "flow", "--db", latest},
		{"inspect", "budget", "--db", latest},
		{"inspect", "execution", "nope", "--db", latest},
		{"inspect", "flow", "nope", "--db", latest},
		{"inspect", "executions", "--state", "nope", "--db", latest},
		{"inspect", "executions", "--limit", "-5", "--db", latest},
		{"inspect", "events", "--outbox", "nope", "--db", latest},
		{"inspect", "events", "--after", "x:y", "--db", latest},
		{"scan", "--only", "nope", "--db", latest},
		{"scan", "--once", "--for", "1s", "--db", latest},
		{"serve", "--listen", "no-port", "--db", ":memory:"},
		// Nothing left to do.
		{"migrate", "up-by-one", "--db", latest},
		{"migrate", "down", "--db", zero},
		{"migrate", "redo", "--db", zero},
		{"migrate", "status", "--exit-code", "--db", zero},
		// Lookups and bad databases.
		{"inspect", "execution", eid, "--db", latest},
		{"inspect", "flow", "6a0c2b9e-1f4d-4e7a-9b3c-2d5e8f1a0b7c", "--db", latest},
		{"scan", "--once", "--db", zero},
		{"inspect", "--db", filepath.Join(dir, "missing.db")},
		{"inspect", "--db", dir},
		{"inspect", "--db", garbage},
		{"migrate", "up", "--db", garbage},
		{"migrate", "up", "--db", filepath.Join(dir, "no", "parent.db")},
		{"init", "--db", "/proc/ffsqlite-audit/ff.db"},
		// No rule knows it: the command's help.
		{"migrate", "up", "--db", clash},
	}
	for _, args := range cases {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			_, errOut, code := runCLI(t, args...)
			lines := errorLines(errOut)
			if code == 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "ffsqlite: ") || !strings.HasPrefix(lines[1], "Try: ") {
				t.Fatalf("exit %d, stderr:\n%s\nwant an error line and a Try: line", code, errOut)
			}
			checkHintCommands(t, strings.TrimPrefix(lines[1], "Try: "))
		})
	}
	// The guard's refusal is upstream's text, then its hint.
	_, errOut, code := runBin(t, []string{"FF_DEV_MODE="}, "inspect", "--db", latest)
	if lines := errorLines(errOut); code != exitDevMode || len(lines) != 2 || lines[0] != backend.ErrRequiresDevMode.Error() ||
		!strings.HasPrefix(lines[1], "Try: ") {
		t.Fatalf("guard: exit %d %q", code, errOut)
	}
}

// The fallback names the failing command's help; a known error keeps its
// own hint.
func TestTryFallbackNamesTheCommand(t *testing.T) {
	t.Parallel()
	app := newApp(io.Discard, io.Discard)
	for args, want := range map[string]string{
		"ffsqlite":                                "ffsqlite",
		"ffsqlite migrate up-to 5 --db x":         "ffsqlite migrate up-to",
		"ffsqlite inspect execution ID --json":    "ffsqlite inspect execution",
		"ffsqlite inspect nope":                   "ffsqlite inspect",
		"ffsqlite serve --listen 127.0.0.1:0 foo": "ffsqlite serve",
	} {
		if got := commandPath(app, strings.Fields(args)); got != want {
			t.Errorf("commandPath(%q) = %q, want %q", args, got, want)
		}
	}
}

// The dev-only banner is printed at any log level, byte for byte, while
// other records below the level are not; so is serve's open-network WARN.
func TestBannerAtEveryLogLevel(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "b.db")
	if _, errOut, code := runCLI(t, "init", "--db", db); code != 0 {
		t.Fatal(errOut)
	}
	banner := `level=WARN msg="` + backend.BannerText + `"`
	for _, c := range []struct {
		env  []string
		args []string
	}{
		{[]string{"FF_LOG_LEVEL=error"}, []string{"inspect", "--db", db}},
		{nil, []string{"inspect", "--db", db, "--log-level", "error"}},
		{[]string{"FF_LOG_LEVEL=error"}, []string{"scan", "--once", "--db", db}},
	} {
		_, errOut, code := runBin(t, c.env, c.args...)
		if code != 0 || strings.Count(errOut, banner) != 1 {
			t.Fatalf("%v %v: exit %d, stderr:\n%s\nwant the banner once", c.env, c.args, code, errOut)
		}
		if strings.Contains(errOut, "level=INFO") || strings.Count(errOut, "level=WARN") != 1 {
			t.Fatalf("%v %v: records below the level were printed:\n%s", c.env, c.args, errOut)
		}
	}
	_, errOut, _ := runBin(t, []string{"FF_LOG_LEVEL=error"}, "inspect", "--db", db, "--log-format", "json")
	if !strings.Contains(errOut, `"level":"WARN","msg":"`+backend.BannerText+`"`) {
		t.Fatalf("json banner at level error:\n%s", errOut)
	}
	p := startServe(t, []string{"FF_LOG_LEVEL=error"}, "--db", ":memory:", "--listen", "0.0.0.0:0")
	if !strings.Contains(p.stderr(), banner) || !strings.Contains(p.stderr(), `level=WARN msg="the API is open to the network`) {
		t.Fatalf("serve at level error:\n%s", p.stderr())
	}
}
