package backend

import (
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// ExecutionID is an execution's identity: the partition label N and a
// UUID, written on the wire as "{fp:N}:<uuid>" (lower-case, hyphenated).
// It is stored as partition_key = N and execution_id = the UUID's 16 raw
// bytes. The partition is only a label: nothing in the engine's
// correctness depends on it.
type ExecutionID struct {
	Partition uint16
	UUID      uuid.UUID
}

// NewExecutionID mints a random (v4) execution id on partition p.
func NewExecutionID(p uint16) ExecutionID {
	return ExecutionID{Partition: p, UUID: uuid.New()}
}

// ParseExecutionID parses "{fp:N}:<uuid>". It rejects a missing "{fp:"
// prefix or "}:" separator, an N that is not a decimal u16, and a bad UUID,
// each with a KindValidation error (code "invalid_input") naming the
// problem. The result formats canonically (lower-case hyphenated UUID,
// N without leading zeros).
func ParseExecutionID(s string) (ExecutionID, error) {
	rest, ok := strings.CutPrefix(s, "{fp:")
	if !ok {
		return ExecutionID{}, idErr("execution_id is missing the `{fp:N}:` hash-tag prefix: %s", s)
	}
	num, us, ok := strings.Cut(rest, "}:")
	if !ok {
		return ExecutionID{}, idErr("execution_id is missing the `{fp:N}:` hash-tag prefix: %s", s)
	}
	if num == "" || len(num) > 5 || strings.Trim(num, "0123456789") != "" {
		return ExecutionID{}, idErr("execution_id partition index is not a valid u16: %s", num)
	}
	n, err := strconv.ParseUint(num, 10, 16)
	if err != nil {
		return ExecutionID{}, idErr("execution_id partition index is not a valid u16: %s", num)
	}
	u, err := uuid.Parse(us)
	if err != nil {
		return ExecutionID{}, idErr("execution_id UUID suffix is not a valid UUID: %s", us)
	}
	return ExecutionID{Partition: uint16(n), UUID: u}, nil
}

func idErr(format string, args ...any) error {
	return validation("", "invalid_input", format, args...)
}

// MustParseExecutionID is ParseExecutionID for constants in tests and
// examples; it panics on a malformed id.
func MustParseExecutionID(s string) ExecutionID {
	id, err := ParseExecutionID(s)
	if err != nil {
		panic(err)
	}
	return id
}

// String returns the wire form "{fp:N}:<uuid>".
func (id ExecutionID) String() string {
	var b [4 + 5 + 2 + 36]byte
	out := append(b[:0], "{fp:"...)
	out = strconv.AppendUint(out, uint64(id.Partition), 10)
	out = append(out, "}:"...)
	out = append(out, id.UUID.String()...)
	return string(out)
}

// IsZero reports whether id is the zero value (no id).
func (id ExecutionID) IsZero() bool { return id == ExecutionID{} }

// MarshalText renders the wire form, so ExecutionID is a JSON string.
func (id ExecutionID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText parses the wire form.
func (id *ExecutionID) UnmarshalText(b []byte) error {
	v, err := ParseExecutionID(string(b))
	if err != nil {
		return err
	}
	*id = v
	return nil
}

// key returns the storage key: (partition_key, 16-byte execution_id).
func (id ExecutionID) key() (int64, []byte) {
	b := make([]byte, 16)
	copy(b, id.UUID[:])
	return int64(id.Partition), b
}

// execIDFromRow rebuilds an id from its stored columns.
func execIDFromRow(part int64, raw []byte) (ExecutionID, error) {
	u, err := uuid.FromBytes(raw)
	if err != nil || part < 0 || part > 0xffff {
		return ExecutionID{}, &Error{Kind: KindTransport, Code: "corruption", Msg: "corrupt execution key in database"}
	}
	return ExecutionID{Partition: uint16(part), UUID: u}, nil
}

// parseUUIDString validates a plain uuid string (attempt, lease ids).
func parseUUIDString(field, s string) (uuid.UUID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return uuid.UUID{}, validation("", "invalid_input", "%s: not a valid UUID: %q", field, s)
	}
	return u, nil
}
