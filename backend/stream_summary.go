package backend

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
)

// The per-attempt summary document of summary-mode frames
// (ff_stream_summary): each frame's payload is an RFC 7396 JSON merge
// patch applied to the document; a null deletes a key, the leaf string
// "__ff_null__" stores an explicit null; each patch bumps the version.

const (
	// summaryNull is the leaf that stores an explicit null.
	summaryNull = "__ff_null__"
	// maxSummaryDepth is the deepest nesting of objects a patch may have,
	// the patch itself counting 1: canonical's merge recursion refuses a
	// depth past 16 with the root at 0. Arrays are replaced whole, so
	// they (and what they hold) do not count.
	maxSummaryDepth = 17
	// summaryPatchKind is ff_stream_summary.patch_kind.
	summaryPatchKind = "json_merge_patch"
)

var qSummaryRead = `SELECT document_json, version FROM ff_stream_summary
WHERE partition_key = ?1 AND execution_id = ?2 AND attempt_index = ?3`

var qSummaryWrite = `INSERT INTO ff_stream_summary
  (partition_key, execution_id, attempt_index, document_json, version, patch_kind, last_updated_ms, first_applied_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
ON CONFLICT (partition_key, execution_id, attempt_index) DO UPDATE SET
  document_json = excluded.document_json, version = excluded.version,
  patch_kind = excluded.patch_kind, last_updated_ms = excluded.last_updated_ms`

// applySummary merges patch into attempt idx's summary document and
// returns the new version.
func (w *wtx) applySummary(op string, part int64, key []byte, idx int64, patch []byte) (int64, error) {
	p, err := parseSummaryPatch(patch)
	if err != nil {
		return 0, engineOp(err, op)
	}
	var (
		doc     string
		version int64
	)
	err = w.queryRow(qSummaryRead, part, key, idx).Scan(&doc, &version)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		doc = "{}"
	case err != nil:
		return 0, err
	}
	var cur map[string]any
	dec := json.NewDecoder(bytes.NewReader([]byte(doc)))
	dec.UseNumber()
	if err := dec.Decode(&cur); err != nil || cur == nil {
		cur = map[string]any{} // a damaged document restarts empty
	}
	merged := mergePatch(cur, p)
	out, err := marshalNoEscape(merged)
	if err != nil {
		return 0, err
	}
	version++
	if _, err := w.exec(qSummaryWrite, part, key, idx, out, version, summaryPatchKind, w.now); err != nil {
		return 0, err
	}
	return version, nil
}

// parseSummaryPatch checks a summary payload: a JSON object nested at
// most maxSummaryDepth deep. Code invalid_input.
func parseSummaryPatch(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil || dec.More() {
		return nil, validation("", "invalid_input", "summary frame payload must be a JSON object (a merge patch)")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, validation("", "invalid_input", "summary frame payload must be a JSON object (a merge patch)")
	}
	if d := patchDepth(obj); d > maxSummaryDepth {
		return nil, validation("", "invalid_input", "summary patch nests %d levels deep, over the limit of %d", d, maxSummaryDepth)
	}
	return obj, nil
}

// patchDepth is how deep a merge patch's objects nest: 1 for an object
// of scalars or arrays, which the merge sets whole and does not enter.
func patchDepth(v any) int {
	t, ok := v.(map[string]any)
	if !ok {
		return 0
	}
	d := 0
	for _, c := range t {
		d = max(d, patchDepth(c))
	}
	return d + 1
}

// mergePatch applies RFC 7396 patch p to target and returns the result; a
// "__ff_null__" leaf becomes an explicit null.
func mergePatch(target map[string]any, p map[string]any) map[string]any {
	if target == nil {
		target = map[string]any{}
	}
	for k, v := range p {
		switch pv := v.(type) {
		case nil:
			delete(target, k)
		case map[string]any:
			sub, _ := target[k].(map[string]any)
			target[k] = mergePatch(sub, pv)
		default:
			target[k] = nullLeaves(v)
		}
	}
	return target
}

// nullLeaves replaces "__ff_null__" leaves inside a value set whole (an
// array, and the objects and arrays inside it, as canonical rewrites every
// table of the document) with null.
func nullLeaves(v any) any {
	switch t := v.(type) {
	case string:
		if t == summaryNull {
			return nil
		}
	case []any:
		for i, c := range t {
			t[i] = nullLeaves(c)
		}
	case map[string]any:
		for k, c := range t {
			t[k] = nullLeaves(c)
		}
	}
	return v
}

func marshalNoEscape(v any) (string, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return "", err
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}
