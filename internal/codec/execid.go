package codec

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"
)

// ParseExecID parses an execution id's wire form "{fp:N}:<uuid>" with
// upstream's rules: N is a decimal u16 (leading zeros allowed), the uuid
// any form uuid.Parse accepts (as Rust's Uuid::parse_str). The error text
// is upstream's and names the problem.
func ParseExecID(s string) (partition uint16, id uuid.UUID, err error) {
	rest, ok := strings.CutPrefix(s, "{fp:")
	if !ok {
		return 0, uuid.UUID{}, fmt.Errorf("execution_id is missing the `{fp:N}:` hash-tag prefix: %s", s)
	}
	num, us, ok := strings.Cut(rest, "}:")
	if !ok {
		return 0, uuid.UUID{}, fmt.Errorf("execution_id is missing the `{fp:N}:` hash-tag prefix: %s", s)
	}
	n, err := strconv.ParseUint(num, 10, 16)
	if num == "" || len(num) > 5 || strings.Trim(num, "0123456789") != "" || err != nil {
		return 0, uuid.UUID{}, fmt.Errorf("execution_id partition index is not a valid u16: %s", num)
	}
	u, err := uuid.Parse(us)
	if err != nil {
		return 0, uuid.UUID{}, fmt.Errorf("execution_id UUID suffix is not a valid UUID: %s", us)
	}
	return uint16(n), u, nil
}

// FormatExecID renders the wire form "{fp:N}:<uuid>" (N without leading
// zeros, the uuid lower-case and hyphenated).
func FormatExecID(partition uint16, id uuid.UUID) string {
	var b [4 + 5 + 2 + 36]byte
	out := append(b[:0], "{fp:"...)
	out = strconv.AppendUint(out, uint64(partition), 10)
	out = append(out, "}:"...)
	out = append(out, id.String()...)
	return string(out)
}

// ErrCorruptExecKey is a stored execution key that is not a partition in
// 0..65535 and a 16-byte uuid.
var ErrCorruptExecKey = errors.New("corrupt execution key in database")

// ExecIDFromRow rebuilds an execution id from its stored columns:
// partition_key and the 16-byte execution_id BLOB.
func ExecIDFromRow(partitionKey int64, raw []byte) (uint16, uuid.UUID, error) {
	u, err := uuid.FromBytes(raw)
	if err != nil || partitionKey < 0 || partitionKey > 0xffff {
		return 0, uuid.UUID{}, ErrCorruptExecKey
	}
	return uint16(partitionKey), u, nil
}
