package dbops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/ffsqlite/ffsqlite/backend"
)

// seedArray is one array a seed file may hold: its name and how one entry
// decodes. Entries are the REST request bodies of their create route.
type seedArray struct {
	name   string
	decode func(json.RawMessage) (backend.SeedItem, *SeedEntryError)
}

// seedArrays lists the arrays of a seed file in the order they apply.
// Adding one is one entry here and a backend.SeedItem args type.
func seedArrays() []seedArray {
	return []seedArray{
		// Quotas first: an execution's policy.quota_policy_id must name one.
		{"quotas", decodeEntry[backend.CreateQuotaPolicyArgs]},   // route 26
		{"executions", decodeEntry[backend.CreateExecutionArgs]}, // route 2
		{"budgets", decodeEntry[backend.CreateBudgetArgs]},       // route 22
		{"flows", decodeEntry[backend.CreateFlowArgs]},           // route 17
		{"members", decodeEntry[backend.AddExecutionToFlowArgs]}, // route 18
		{"edges", decodeEntry[backend.StageDependencyEdgeArgs]},  // route 20, then applied (route 21)
	}
}

// SeedEntryError names the entry that stopped a seed; nothing was applied.
type SeedEntryError struct {
	Array string
	Index int
	// Field is the body field at fault, when known.
	Field string
	Err   error
}

func (e *SeedEntryError) Error() string {
	where := fmt.Sprintf("%s[%d]", e.Array, e.Index)
	if e.Field != "" {
		where += "." + e.Field
	}
	return where + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *SeedEntryError) Unwrap() error { return e.Err }

// SeedFileError is a seed file that is not an object of known arrays.
type SeedFileError struct{ Msg string }

func (e *SeedFileError) Error() string { return "seed file: " + e.Msg }

// SeedOptions tunes Seed.
type SeedOptions struct {
	Backend backend.Options
}

// SeedCount is what one array's entries did.
type SeedCount struct {
	Created int `json:"created"`
	// Existing entries named an id already there (left as it was).
	Existing int `json:"existing"`
}

// SeedResult says what Seed applied, per array.
type SeedResult struct {
	Path   string               `json:"path"`
	Arrays map[string]SeedCount `json:"arrays"`
}

// Seed loads the fixtures in data (a JSON object whose arrays are named in
// seedArrays, each entry the request body of its create route) into the
// database at path, in one transaction through the engine's own create
// paths: idempotent on ids, and a bad entry, named by array, index and
// field, applies nothing. The database must be at the latest schema.
func Seed(ctx context.Context, path string, data []byte, o SeedOptions) (*SeedResult, error) {
	items, where, err := parseSeed(data)
	if err != nil {
		return nil, err
	}
	bo := o.Backend
	bo.ReadOnly, bo.MustExist = false, true
	b, err := backend.Open(ctx, path, bo)
	if err != nil {
		return nil, err
	}
	defer b.Close(ctx)
	if err := requireLatest(ctx, b); err != nil {
		return nil, err
	}
	created, err := b.Seed(ctx, items)
	var se *backend.SeedError
	if errors.As(err, &se) {
		w := where[se.Index]
		return nil, &SeedEntryError{Array: w.array, Index: w.index, Err: se.Err}
	}
	if err != nil {
		return nil, err
	}
	res := &SeedResult{Path: b.Path(), Arrays: map[string]SeedCount{}}
	for _, a := range seedArrays() {
		res.Arrays[a.name] = SeedCount{}
	}
	for i, c := range created {
		n := res.Arrays[where[i].array]
		if c {
			n.Created++
		} else {
			n.Existing++
		}
		res.Arrays[where[i].array] = n
	}
	return res, nil
}

type entryPos struct {
	array string
	index int
}

// parseSeed decodes the whole file before anything opens the database.
func parseSeed(data []byte) ([]backend.SeedItem, []entryPos, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		if err == nil {
			err = errors.New("null")
		}
		return nil, nil, &SeedFileError{Msg: "not a JSON object: " + err.Error()}
	}
	arrays := seedArrays()
	var names []string
	for _, a := range arrays {
		names = append(names, a.name)
	}
	for k := range top {
		if !slices.Contains(names, k) {
			return nil, nil, &SeedFileError{Msg: fmt.Sprintf("unknown array %q (known: %s)", k, strings.Join(names, ", "))}
		}
	}
	var items []backend.SeedItem
	var where []entryPos
	for _, a := range arrays {
		raw, ok := top[a.name]
		if !ok || bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue
		}
		var entries []json.RawMessage
		if err := json.Unmarshal(raw, &entries); err != nil {
			return nil, nil, &SeedFileError{Msg: fmt.Sprintf("%q is not an array", a.name)}
		}
		for i, e := range entries {
			it, err := a.decode(e)
			if err != nil {
				err.Array, err.Index = a.name, i
				return nil, nil, err
			}
			items = append(items, it)
			where = append(where, entryPos{a.name, i})
		}
	}
	return items, where, nil
}

// decodeEntry decodes one entry as its route's body: an object carrying
// every required field (not null), whose fields have the body's types.
// A decoding error names the field at fault.
func decodeEntry[T backend.SeedItem](raw json.RawMessage) (backend.SeedItem, *SeedEntryError) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return nil, &SeedEntryError{Err: errors.New("not a JSON object")}
	}
	var v T
	for _, f := range v.RequiredFields() {
		if val, ok := fields[f]; !ok || bytes.Equal(bytes.TrimSpace(val), []byte("null")) {
			return nil, &SeedEntryError{Field: f, Err: errors.New("required")}
		}
	}
	err := json.Unmarshal(raw, &v)
	if err == nil {
		return v, nil
	}
	// Find the field: decode each one alone, in name order.
	keys := make([]string, 0, len(fields))
	for k := range fields {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		one, _ := json.Marshal(map[string]json.RawMessage{k: fields[k]})
		var probe T
		if ferr := json.Unmarshal(one, &probe); ferr != nil {
			return nil, &SeedEntryError{Field: k, Err: ferr}
		}
	}
	return nil, &SeedEntryError{Err: err}
}
