package backend_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// TestOneRulePerInput gives the same bad lane, worker id or capability to
// every entry point that takes one and wants the same error code and
// message from each: the rules are written once (validate.go).
func TestOneRulePerInput(t *testing.T) {
	t.Parallel()
	b := testdb.Open(t)
	create := func(lane string, caps []string) error {
		pol, _ := json.Marshal(map[string]any{"routing_requirements": map[string]any{"required_capabilities": caps}})
		_, err := b.CreateExecution(engCtx, engArgs(engLane(lane), engPolicy(string(pol))))
		return err
	}
	claim := func(lane, worker string, caps []string) error {
		_, err := b.Claim(engCtx, backend.ClaimArgs{WorkerID: worker, WorkerInstanceID: "i", LaneID: lane, Capabilities: caps})
		return err
	}
	register := func(lane, worker string, caps []string) error {
		_, err := b.RegisterWorker(engCtx, backend.RegisterWorkerArgs{Namespace: "ns", WorkerID: worker, WorkerInstanceID: "i",
			Lanes: []string{lane}, Capabilities: caps, LivenessTTLMS: 1000})
		return err
	}
	for _, c := range []struct {
		name, code, msg string
		errs            map[string]error
	}{
		{"long lane", "invalid_input", "must be 1..=64 bytes (got 65)", map[string]error{
			"create":   create(strings.Repeat("l", 65), nil),
			"claim":    claim(strings.Repeat("l", 65), "w", nil),
			"register": register(strings.Repeat("l", 65), "w", nil),
		}},
		{"control byte in lane", "invalid_input", "must be printable ASCII (byte 0x0a at 1)", map[string]error{
			"create":   create("a\nb", nil),
			"claim":    claim("a\nb", "w", nil),
			"register": register("a\nb", "w", nil),
		}},
		{"space in worker id", "invalid_input", "worker_id: must not contain whitespace or control characters", map[string]error{
			"claim":    claim("default", "a b", nil),
			"register": register("default", "a b", nil),
		}},
		{"space in capability", "invalid_capabilities", `capability token "has space" contains a forbidden byte 0x20`, map[string]error{
			"create":   create("default", []string{"has space"}),
			"claim":    claim("default", "w", []string{"has space"}),
			"register": register("default", "w", []string{"has space"}),
		}},
		{"empty capability", "invalid_capabilities", "capability token must not be empty", map[string]error{
			"create":   create("default", []string{""}),
			"claim":    claim("default", "w", []string{""}),
			"register": register("default", "w", []string{""}),
		}},
	} {
		for entry, err := range c.errs {
			if !errors.Is(err, &backend.Error{Kind: backend.KindValidation, Code: c.code}) || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("%s through %s: %v; want code %s, message with %q", c.name, entry, err, c.code, c.msg)
			}
		}
	}
	// A comma is a valid lane byte but cannot be stored in a worker's
	// comma-joined lane set.
	if err := register("a,b", "w", nil); !errors.Is(err, &backend.Error{Kind: backend.KindValidation, Code: "invalid_input"}) ||
		!strings.Contains(err.Error(), "lanes[0]: must not contain a comma") {
		t.Errorf("comma lane: %v", err)
	}
}
