package codec

import (
	"slices"
	"strings"
)

// The worker registry stores a worker's lanes and capabilities as sorted,
// de-duplicated, comma-joined text (ff_worker_registry.lanes and
// capabilities_csv); the entries never contain a comma.

// JoinSet renders a validated set: sorted, without duplicates, joined by
// commas ("" for none).
func JoinSet(items []string) string {
	return strings.Join(slices.Compact(slices.Sorted(slices.Values(items))), ",")
}

// SplitSet reads a stored set as upstream does: split on commas, empty
// entries dropped, sorted and de-duplicated (a BTreeSet); never nil.
func SplitSet(s string) []string {
	out := []string{}
	for _, p := range strings.Split(s, ",") {
		if p != "" {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
