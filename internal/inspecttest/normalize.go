package inspecttest

import (
	"regexp"
	"strings"
)

var (
	sizeText = regexp.MustCompile(`\d+ bytes \([0-9.]+ [KMG]?i?B\)`)
	sizeJSON = regexp.MustCompile(`"size_bytes": \d+`)
)

// Normalize removes from rendered inspect output what differs between
// machines and runs, so it can be compared with a golden file: the
// database path ($DB), the linked SQLite version ($SQLITE_VERSION) and the
// file size ($SIZE).
func Normalize(s, path, sqliteVersion string) string {
	s = strings.ReplaceAll(s, path, "$DB")
	s = strings.ReplaceAll(s, sqliteVersion, "$SQLITE_VERSION")
	s = sizeText.ReplaceAllString(s, "$$SIZE")
	return sizeJSON.ReplaceAllString(s, `"size_bytes": "$$SIZE"`)
}
