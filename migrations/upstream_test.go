package migrations

import (
	"encoding/hex"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// specRow is one row of the spec's table (testdata/sqlx-ledger-table.md).
type specRow struct {
	version           int64
	file, description string
	checksum          string
}

func readSpecTable(t *testing.T) []specRow {
	t.Helper()
	data, err := os.ReadFile("testdata/sqlx-ledger-table.md")
	if err != nil {
		t.Fatal(err)
	}
	var rows []specRow
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		v, err := strconv.ParseInt(cells[0], 10, 64)
		if err != nil {
			continue // header and separator rows
		}
		rows = append(rows, specRow{version: v, file: cells[1], description: cells[2], checksum: cells[3]})
	}
	if len(rows) == 0 {
		t.Fatal("no rows in testdata/sqlx-ledger-table.md")
	}
	return rows
}

func TestUpstreamLedgerMatchesSpec(t *testing.T) {
	t.Parallel()
	spec := readSpecTable(t)
	got := Upstream()
	if len(got) != len(spec) {
		t.Fatalf("%d upstream migrations, the spec lists %d", len(got), len(spec))
	}
	for i, s := range spec {
		g := got[i]
		if g.Version != s.version || g.Description != s.description || hex.EncodeToString(g.Checksum) != s.checksum {
			t.Errorf("row %d: have {%d %q %x}, spec {%d %q %s}", i, g.Version, g.Description, g.Checksum, s.version, s.description, s.checksum)
		}
		// The description is derived from the file name, as sqlx does.
		if want := strings.ReplaceAll(strings.TrimSuffix(strings.SplitN(s.file, "_", 2)[1], ".sql"), "_", " "); want != s.description {
			t.Errorf("version %d: spec description %q does not follow from %s", s.version, s.description, s.file)
		}
		if m, ok := UpstreamVersion(s.version); !ok || m.Description != s.description {
			t.Errorf("UpstreamVersion(%d) = %+v, %v", s.version, m, ok)
		}
	}
	if _, ok := UpstreamVersion(15); ok {
		t.Error("UpstreamVersion(15): upstream ships no version 15")
	}
}

func TestUpstreamVersionsAreTheEmbeddedOnes(t *testing.T) {
	t.Parallel()
	var up []int64
	for _, m := range Upstream() {
		up = append(up, m.Version)
	}
	if !slices.Equal(up, Versions()) {
		t.Fatalf("upstream versions %v, embedded %v", up, Versions())
	}
	// Each embedded file carries upstream's name, so its description is
	// the one upstream's runner records.
	spec := readSpecTable(t)
	for _, s := range spec {
		if _, err := files.Open(s.file); err != nil {
			t.Errorf("no embedded migration named %s: %v", s.file, err)
		}
	}
}
