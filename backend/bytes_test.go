package backend_test

import (
	"encoding/json"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
)

func TestBytesWireCodec(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   backend.Bytes
		want string
	}{
		{nil, "[]"},
		{backend.Bytes{}, "[]"},
		{backend.Bytes{0, 7, 255}, "[0,7,255]"},
	} {
		out, err := json.Marshal(c.in)
		if err != nil || string(out) != c.want {
			t.Errorf("Marshal(%v) = %s, %v; want %s", []byte(c.in), out, err, c.want)
		}
	}
	for _, c := range []struct {
		in      string
		want    []byte
		wantErr bool
	}{
		{in: "[1, 2,255]", want: []byte{1, 2, 255}},
		{in: " [] ", want: []byte{}},
		{in: "null", want: nil},
		{in: `"AQI="`, want: []byte{1, 2}}, // base64
		{in: "[256]", wantErr: true},
		{in: "[-1]", wantErr: true},
		{in: `"not base64!"`, wantErr: true},
		{in: `{"a":1}`, wantErr: true},
	} {
		var got backend.Bytes
		err := json.Unmarshal([]byte(c.in), &got)
		if c.wantErr {
			if err == nil {
				t.Errorf("Unmarshal(%s) = %v, want an error", c.in, []byte(got))
			}
			continue
		}
		if err != nil || string(got) != string(c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("Unmarshal(%s) = %#v, %v; want %#v", c.in, []byte(got), err, c.want)
		}
	}
}
