package backend

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
)

// The input rules, each written once: every entry point checks a lane, a
// worker id, a capability set or an identifier with these functions, so
// one input gets one error (code and text) wherever it is given. The
// errors carry no operation; callers add theirs with engineOp (or pass op,
// for checkIdent).

// Limits of the input rules.
const (
	// maxLaneBytes is the longest lane id (upstream's LANE_ID_MAX_BYTES).
	maxLaneBytes = 64
	// maxWorkerIDBytes is the longest worker_id / worker_instance_id.
	maxWorkerIDBytes = 256
	// maxIdentBytes is the longest namespace, budget id or dimension.
	maxIdentBytes = 256
	// MaxCapabilityTokens and MaxCapabilityCSVBytes bound a capability
	// set: tokens per set and bytes of the comma-joined set.
	MaxCapabilityTokens   = 256
	MaxCapabilityCSVBytes = 4096
	// maxLaneSetCSVBytes bounds a worker's comma-joined lane set.
	maxLaneSetCSVBytes = 4096
)

// validateLane checks a lane id with upstream's LaneId rule: 1–64 bytes,
// every byte printable ASCII (0x20–0x7e). Code invalid_input.
func validateLane(lane string) error { return checkLane("lane_id", lane) }

// checkLane is validateLane for the named field.
func checkLane(field, lane string) error {
	if len(lane) == 0 || len(lane) > maxLaneBytes {
		return validation("", "invalid_input", "%s: must be 1..=%d bytes (got %d)", field, maxLaneBytes, len(lane))
	}
	for i := 0; i < len(lane); i++ {
		if c := lane[i]; c < 0x20 || c > 0x7e {
			return validation("", "invalid_input", "%s: must be printable ASCII (byte 0x%02x at %d)", field, c, i)
		}
	}
	return nil
}

// laneSet validates a worker's lanes (each a lane id without a comma, as
// they are stored comma-joined) and returns them sorted without
// duplicates. Code invalid_input.
func laneSet(field string, lanes []string) ([]string, error) {
	for i, l := range lanes {
		f := field + "[" + strconv.Itoa(i) + "]"
		if err := checkLane(f, l); err != nil {
			return nil, err
		}
		if strings.Contains(l, ",") {
			return nil, validation("", "invalid_input", "%s: must not contain a comma (lanes are stored comma-joined)", f)
		}
	}
	out := slices.Compact(slices.Sorted(slices.Values(lanes)))
	if n := len(strings.Join(out, ",")); n > maxLaneSetCSVBytes {
		return nil, validation("", "invalid_input", "%s: %d bytes joined (max %d)", field, n, maxLaneSetCSVBytes)
	}
	return out, nil
}

// validateWorkerID checks a worker_id or worker_instance_id (upstream's
// rule): non-empty, at most 256 bytes, no whitespace or control
// characters. Code invalid_input.
func validateWorkerID(field, v string) error {
	if v == "" {
		return validation("", "invalid_input", "%s: must not be empty", field)
	}
	if len(v) > maxWorkerIDBytes {
		return validation("", "invalid_input", "%s: exceeds %d bytes (got %d)", field, maxWorkerIDBytes, len(v))
	}
	if strings.IndexFunc(v, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return validation("", "invalid_input", "%s: must not contain whitespace or control characters", field)
	}
	return nil
}

// normalizeCapabilities validates capability tokens (spec §4.6: non-empty,
// no comma, no byte <= 0x20 or 0x7F, at most 256 tokens, comma-joined at
// most 4096 bytes) and returns them sorted without duplicates.
func normalizeCapabilities(tokens []string) ([]string, error) {
	if len(tokens) == 0 {
		return nil, nil
	}
	out := append([]string(nil), tokens...)
	sort.Strings(out)
	j := 0
	for i, t := range out {
		if i > 0 && t == out[j-1] {
			continue
		}
		out[j] = t
		j++
	}
	out = out[:j]
	if len(out) > MaxCapabilityTokens {
		return nil, capErr("too many capability tokens: %d (max %d)", len(out), MaxCapabilityTokens)
	}
	total := 0
	for _, t := range out {
		if t == "" {
			return nil, capErr("capability token must not be empty")
		}
		for i := 0; i < len(t); i++ {
			if c := t[i]; c == ',' || c <= 0x20 || c == 0x7f {
				return nil, capErr("capability token %q contains a forbidden byte 0x%02x", t, c)
			}
		}
		total += len(t) + 1
	}
	if total-1 > MaxCapabilityCSVBytes {
		return nil, capErr("capability set is %d bytes joined (max %d)", total-1, MaxCapabilityCSVBytes)
	}
	return out, nil
}

func capErr(format string, args ...any) error {
	return validation("", "invalid_capabilities", "invalid_capabilities: "+format, args...)
}

// checkIdent checks a caller-supplied identifier: non-empty, at most 256
// bytes, no control characters.
func checkIdent(op, field, s string) error {
	if s == "" {
		return validation(op, "invalid_input", "%s: must not be empty", field)
	}
	if len(s) > maxIdentBytes {
		return validation(op, "invalid_input", "%s: exceeds %d bytes (got %d)", field, maxIdentBytes, len(s))
	}
	if strings.IndexFunc(s, isCtlRune) >= 0 {
		return validation(op, "invalid_input", "%s: must not contain control characters", field)
	}
	return nil
}

func isCtlRune(r rune) bool { return r < 0x20 || (r >= 0x7f && r < 0xa0) }
