package backend

import "strings"

// sharedMemoryURI is what a bare ":memory:" path becomes, so that every
// connection of the pool sees one database.
const sharedMemoryURI = "file::memory:?cache=shared"

// IsMemoryURI reports whether path names an in-memory database, with
// upstream's exact rules: ":memory:" itself, anything starting with
// "file::memory:", or a "file:" URI whose query (fragment removed, split on
// "&") has a pair exactly equal to "mode=memory". ":memory:?cache=shared" and
// "file:foo?mode=memory_extra" are not in-memory.
func IsMemoryURI(path string) bool {
	if path == ":memory:" || strings.HasPrefix(path, "file::memory:") {
		return true
	}
	if !strings.HasPrefix(path, "file:") {
		return false
	}
	_, query, ok := strings.Cut(path, "?")
	if !ok {
		return false
	}
	query, _, _ = strings.Cut(query, "#")
	for _, pair := range strings.Split(query, "&") {
		if pair == "mode=memory" {
			return true
		}
	}
	return false
}

// effectiveMemoryURI rewrites an in-memory path so that it always uses a
// shared cache: bare ":memory:" becomes sharedMemoryURI and any other memory
// URI without cache=shared gets it appended (a private cache would give each
// pooled connection its own empty database).
func effectiveMemoryURI(path string) string {
	if path == ":memory:" {
		return sharedMemoryURI
	}
	_, query, _ := strings.Cut(path, "?")
	query, _, _ = strings.Cut(query, "#")
	for _, pair := range strings.Split(query, "&") {
		if pair == "cache=shared" {
			return path
		}
	}
	if strings.Contains(path, "?") {
		return path + "&cache=shared"
	}
	return path + "?cache=shared"
}
