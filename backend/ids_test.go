package backend_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
)

func TestParseExecutionID(t *testing.T) {
	t.Parallel()
	const u = "0f8fad5b-d9cb-469f-a165-70867728950e"
	cases := []struct {
		in, want, errHas string
	}{
		{in: "{fp:7}:" + u, want: "{fp:7}:" + u},
		{in: "{fp:0}:" + u, want: "{fp:0}:" + u},
		{in: "{fp:65535}:" + u, want: "{fp:65535}:" + u},
		{in: "{fp:7}:" + strings.ToUpper(u), want: "{fp:7}:" + u},
		{in: "{fp:007}:" + u, want: "{fp:7}:" + u},
		{in: u, errHas: "missing the `{fp:N}:` hash-tag prefix"},
		{in: "fp:7}:" + u, errHas: "missing the `{fp:N}:` hash-tag prefix"},
		{in: "{fp:7}" + u, errHas: "missing the `{fp:N}:` hash-tag prefix"},
		{in: "{fp:7:" + u, errHas: "missing the `{fp:N}:` hash-tag prefix"},
		{in: "{fp:}:" + u, errHas: "partition index is not a valid u16: "},
		{in: "{fp:65536}:" + u, errHas: "partition index is not a valid u16: 65536"},
		{in: "{fp:-1}:" + u, errHas: "partition index is not a valid u16: -1"},
		{in: "{fp:+1}:" + u, errHas: "partition index is not a valid u16: +1"},
		{in: "{fp:x}:" + u, errHas: "partition index is not a valid u16: x"},
		{in: "{fp:7}:not-a-uuid", errHas: "UUID suffix is not a valid UUID: not-a-uuid"},
		{in: "{fp:7}:", errHas: "UUID suffix is not a valid UUID"},
		{in: "", errHas: "missing the `{fp:N}:` hash-tag prefix"},
	}
	for _, c := range cases {
		id, err := backend.ParseExecutionID(c.in)
		if c.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), c.errHas) {
				t.Errorf("Parse(%q) = %v, %v; want error containing %q", c.in, id, err, c.errHas)
			}
			engWantCode(t, err, backend.KindValidation, "invalid_input")
			continue
		}
		if err != nil || id.String() != c.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", c.in, id, err, c.want)
		}
	}
}

func TestExecutionIDJSONRoundTrip(t *testing.T) {
	t.Parallel()
	id := backend.NewExecutionID(42)
	b, err := json.Marshal(id)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `"`+id.String()+`"` {
		t.Fatalf("marshal = %s", b)
	}
	var back backend.ExecutionID
	if err := json.Unmarshal(b, &back); err != nil || back != id {
		t.Fatalf("unmarshal = %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`"nope"`), &back); err == nil {
		t.Fatal("bad id unmarshalled")
	}
}
