package server

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestDropCaseVariants: keys that only case-fold to a field's name go, at
// every level of structs, pointers and slices; exact names, unknown keys
// and what a type decodes itself stay.
func TestDropCaseVariants(t *testing.T) {
	t.Parallel()
	type inner struct {
		Lane string `json:"lane_id"`
	}
	type embedded struct {
		Extra string `json:"extra"`
	}
	type outer struct {
		embedded
		Name  string          `json:"name"`
		In    *inner          `json:"inner"`
		List  []inner         `json:"list"`
		Raw   json.RawMessage `json:"raw"`
		Skip  string          `json:"-"`
		NoTag string
	}
	for _, c := range []struct{ in, want string }{
		{`{"name":"a","other":1}`, `{"name":"a","other":1}`},
		{`{"name":"a","NAME":"b"}`, `{"name":"a"}`},
		{`{"Name":"b"}`, `{}`},
		{`{"inner":{"lane_id":"x","LANE_ID":"y"}}`, `{"inner":{"lane_id":"x"}}`},
		{`{"list":[{"Lane_Id":"y"},{"lane_id":"x"}]}`, `{"list":[{},{"lane_id":"x"}]}`},
		{`{"EXTRA":"e","extra":"f"}`, `{"extra":"f"}`},
		{`{"raw":{"NAME":1}}`, `{"raw":{"NAME":1}}`},
		{`{"notag":"n"}`, `{}`},
		{`{"NoTag":"n"}`, `{"NoTag":"n"}`},
	} {
		out, _ := dropCaseVariants([]byte(c.in), reflect.TypeOf(&outer{}))
		var got, want any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("%s: output %s: %v", c.in, out, err)
		}
		_ = json.Unmarshal([]byte(c.want), &want)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("dropCaseVariants(%s) = %s, want %s", c.in, out, c.want)
		}
	}
	if out, dropped := dropCaseVariants([]byte(`{"name" : "a"}`), reflect.TypeOf(outer{})); dropped || string(out) != `{"name" : "a"}` {
		t.Errorf("nothing to drop: got %s, %v; want the input unchanged", out, dropped)
	}
}
