package backend

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestFieldsJSON: the hand-built frame fields are what encoding/json
// (without HTML escaping) writes for every kind of character.
func TestFieldsJSON(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "plain", `q"b\s`, "nl\nrt\rtab\t", "\x00\x01\x1f\x7f", "<a>&b", "é ü 漢 🎉", "\u2028\u2029", "\uFFFD"} {
		f := frameFields{FrameType: s, TS: "1", Payload: s, Encoding: "utf8", Source: "worker", Mode: "durable", CorrelationID: s, TTLMS: s}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(f); err != nil {
			t.Fatal(err)
		}
		if got, want := fieldsJSON(f), string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))); got != want {
			t.Errorf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}
