package suspension

import (
	"bytes"
	"errors"
	"strconv"
	"testing"
)

// FuzzParseCondition checks the condition parser on arbitrary bytes: it
// never panics, every error is a *ShapeError, an accepted condition
// re-encodes to canonical JSON that parses back to the same encoding,
// validation never panics, and the incremental evaluator (Apply) agrees
// with the full re-evaluation (Evaluate) of a valid condition after
// every signal of a script derived from the second input. `go test` runs the seeds; run
// `go test -fuzz FuzzParseCondition ./suspension/` to explore.
func FuzzParseCondition(f *testing.F) {
	seeds := []string{
		`"OperatorOnly"`, `"TimeoutOnly"`,
		`{"Single":{"waitpoint_key":"a","matcher":{"ByName":"approve"}}}`,
		`{"Single":{"waitpoint_key":"a","matcher":"Wildcard"}}`,
		`{"Composite":{"kind":"AllOf","members":[{"Single":{"waitpoint_key":"a","matcher":"Wildcard"}},{"Single":{"waitpoint_key":"b","matcher":{"ByName":"x"}}}]}}`,
		`{"Composite":{"kind":"Count","n":2,"count_kind":"DistinctWaitpoints","waitpoints":["a","b","c"]}}`,
		`{"Composite":{"kind":"Count","n":2,"count_kind":"DistinctSignals","matcher":{"ByName":"x"},"waitpoints":["a"]}}`,
		`{"Composite":{"kind":"Count","n":2,"count_kind":"DistinctSources","matcher":"Wildcard","waitpoints":["a","b"]}}`,
		`{"Composite":{"kind":"AllOf","members":[{"Composite":{"kind":"AllOf","members":[{"Composite":{"kind":"AllOf","members":[{"Composite":{"kind":"AllOf","members":[{"Composite":{"kind":"AllOf","members":["OperatorOnly"]}}]}}]}}]}}]}}`,
		`{"Composite":{"kind":"AllOf","members":[]}}`,
		`{"Composite":{"kind":"Count","n":0,"count_kind":"DistinctSignals","waitpoints":[]}}`,
		`{"Single":{"waitpoint_key":"a"}}`, `{"Bogus":1}`, `[`, ``, `null`,
	}
	for i, s := range seeds {
		f.Add([]byte(s), []byte{byte(i), 0x13, 0x27, 0x31, 0x42, 0x05})
	}
	f.Fuzz(func(t *testing.T, data, script []byte) {
		c, err := ParseCondition(data)
		if err != nil {
			var se *ShapeError
			if !errors.As(err, &se) {
				t.Fatalf("ParseCondition error %T %v is not a *ShapeError", err, err)
			}
			return
		}
		enc, err := c.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON of a parsed condition: %v", err)
		}
		back, err := ParseCondition(enc)
		if err != nil {
			t.Fatalf("canonical JSON %s does not parse: %v", enc, err)
		}
		enc2, _ := back.MarshalJSON()
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding not stable:\n%s\n%s", enc, enc2)
		}
		verr := c.ValidateComposite()
		var ve *ValidationError
		if verr != nil && !errors.As(verr, &ve) {
			t.Fatalf("ValidateComposite error %T", verr)
		}
		_ = c.ReferencedKeys()
		_ = c.RequiredSignalNames("a")
		if verr != nil {
			return // the engine never evaluates a condition that fails validation
		}
		keys := append(c.ReferencedKeys(), "zz")
		names := []string{"x", "approve", "y", OperatorOnlySentinel}
		st := NewState()
		var seen []Signal
		for i, b := range script {
			s := Signal{
				ID:             strconv.Itoa(int(b >> 5)),
				Name:           names[int(b)%len(names)],
				SourceType:     strconv.Itoa(int(b>>3) % 3),
				SourceIdentity: strconv.Itoa(int(b>>1) % 2),
				WaitpointKey:   keys[int(b)%len(keys)],
			}
			out := Apply(c, st, s)
			seen = append(seen, s)
			if want := Evaluate(c, seen); out.Satisfied != want || Satisfied(c, st) != want {
				t.Fatalf("after signal %d of %s: Apply satisfied %v (state %v), Evaluate %v", i, enc, out.Satisfied, Satisfied(c, st), want)
			}
			if out.Satisfied {
				return // the suspension closes here
			}
		}
	})
}
