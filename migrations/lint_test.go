package migrations

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const lintScript = "../scripts/lint-migrations.sh"

// runLint runs the lint script with bash and returns its exit code and
// combined stdout+stderr.
func runLint(t *testing.T, args ...string) (int, string) {
	t.Helper()
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	cmd := exec.Command(bash, append([]string{lintScript}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, out.String()
	case errors.As(err, &exit):
		return exit.ExitCode(), out.String()
	default:
		t.Fatalf("running %s: %v", lintScript, err)
		return 0, ""
	}
}

// copyTree copies the manifest, the skip file and the SQL migrations into a
// temp dir and returns (manifest, sqlite dir, skip file) paths.
func copyTree(t *testing.T) (string, string, string) {
	t.Helper()
	dir := t.TempDir()
	sqliteDir := filepath.Join(dir, "sqlite")
	if err := os.Mkdir(sqliteDir, 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append(files, ".sqlite-skip") {
		copyFile(t, f, filepath.Join(sqliteDir, f))
	}
	manifest := filepath.Join(dir, "pg-manifest.txt")
	copyFile(t, "pg-manifest.txt", manifest)
	return manifest, sqliteDir, filepath.Join(sqliteDir, ".sqlite-skip")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func appendLine(t *testing.T, path, line string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(line + "\n"); err != nil {
		t.Fatal(err)
	}
}

func TestLintRealFiles(t *testing.T) {
	t.Parallel()
	code, out := runLint(t)
	if code != 0 || out != "OK: migration parity verified (21 pairs)\n" {
		t.Fatalf("lint on repo files: exit %d, output %q", code, out)
	}
}

func TestLintTempCopyClean(t *testing.T) {
	t.Parallel()
	manifest, dir, skip := copyTree(t)
	if code, out := runLint(t, manifest, dir, skip); code != 0 || !strings.Contains(out, "OK: migration parity verified (21 pairs)") {
		t.Fatalf("lint on clean copy: exit %d, output %q", code, out)
	}
}

func TestLintDrift(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		mutate func(t *testing.T, manifest, dir, skip string) []string
		code   int
		want   []string
	}{
		{
			name: "removed sqlite file",
			mutate: func(t *testing.T, manifest, dir, skip string) []string {
				if err := os.Remove(filepath.Join(dir, "0005_timeout_scanners.sql")); err != nil {
					t.Fatal(err)
				}
				return []string{manifest, dir, skip}
			},
			code: 1,
			want: []string{"ERROR: PG migrations without SQLite sibling or .sqlite-skip entry:\n  0005_timeout_scanners.sql\n"},
		},
		{
			name: "extra sqlite file",
			mutate: func(t *testing.T, manifest, dir, skip string) []string {
				if err := os.WriteFile(filepath.Join(dir, "0023_extra.sql"), []byte("-- +goose Up\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return []string{manifest, dir, skip}
			},
			code: 1,
			want: []string{"ERROR: SQLite migrations without PG sibling:\n  0023_extra.sql\n"},
		},
		{
			name: "stale skip entry",
			mutate: func(t *testing.T, manifest, dir, skip string) []string {
				appendLine(t, skip, "0015_never_shipped.sql  # issue:123")
				return []string{manifest, dir, skip}
			},
			code: 1,
			want: []string{
				"ERROR: .sqlite-skip entries do not match any PG migration filename:\n  0015_never_shipped.sql\n",
				"  (remove stale entries or fix the filename to match ",
			},
		},
		{
			name: "missing skip entry",
			mutate: func(t *testing.T, manifest, dir, skip string) []string {
				if err := os.WriteFile(skip, []byte("# empty\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				return []string{manifest, dir, skip}
			},
			code: 1,
			want: []string{"ERROR: PG migrations without SQLite sibling or .sqlite-skip entry:\n  0019_flow_summary.sql\n"},
		},
		{
			name: "missing sqlite dir",
			mutate: func(t *testing.T, manifest, dir, skip string) []string {
				return []string{manifest, filepath.Join(dir, "nope"), skip}
			},
			code: 2,
			want: []string{"ERROR: SQLite migrations dir missing: "},
		},
		{
			name: "missing pg manifest",
			mutate: func(t *testing.T, manifest, dir, skip string) []string {
				return []string{manifest + ".nope", dir, skip}
			},
			code: 2,
			want: []string{"ERROR: PG migrations dir missing: "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			manifest, dir, skip := copyTree(t)
			args := tt.mutate(t, manifest, dir, skip)
			code, out := runLint(t, args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; output:\n%s", code, tt.code, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q; output:\n%s", w, out)
				}
			}
			if strings.Contains(out, "OK:") {
				t.Errorf("failing lint printed OK line:\n%s", out)
			}
		})
	}
}
