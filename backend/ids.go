package backend

import (
	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/internal/codec"
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
	p, u, err := codec.ParseExecID(s)
	if err != nil {
		return ExecutionID{}, validation("", "invalid_input", "%s", err)
	}
	return ExecutionID{Partition: p, UUID: u}, nil
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
func (id ExecutionID) String() string { return codec.FormatExecID(id.Partition, id.UUID) }

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
	p, u, err := codec.ExecIDFromRow(part, raw)
	if err != nil {
		return ExecutionID{}, &Error{Kind: KindTransport, Code: "corruption", Msg: err.Error()}
	}
	return ExecutionID{Partition: p, UUID: u}, nil
}

// parseUUIDString validates a plain uuid string (attempt, lease ids).
func parseUUIDString(field, s string) (uuid.UUID, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return uuid.UUID{}, validation("", "invalid_input", "%s: not a valid UUID: %q", field, s)
	}
	return u, nil
}
