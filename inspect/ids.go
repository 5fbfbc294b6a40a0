package inspect

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/ffsqlite/ffsqlite/internal/codec"
)

// ExecID builds the wire execution id "{fp:N}:<uuid>" from its stored
// parts (partition_key and the 16-byte uuid BLOB), as the engine formats
// it. A key the engine never writes (partition outside 0..65535, a BLOB of
// another length) is still shown, the BLOB as "x'<hex>'".
func ExecID(partition int64, id []byte) string {
	if p, u, err := codec.ExecIDFromRow(partition, id); err == nil {
		return codec.FormatExecID(p, u)
	}
	return "{fp:" + strconv.FormatInt(partition, 10) + "}:" + UUIDString(id)
}

// UUIDString formats a 16-byte uuid BLOB as the lower-case hyphenated form.
// Any other length (never written by ffsqlite) is shown as "x'<hex>'" so it
// is still recognisable.
func UUIDString(b []byte) string {
	u, err := uuid.FromBytes(b)
	if err != nil {
		return "x'" + hex.EncodeToString(b) + "'"
	}
	return u.String()
}

// ParseUUID parses a uuid (hyphenated, bare 32 digits, braced or urn:, as
// the engine accepts them) into its 16 bytes.
func ParseUUID(s string) ([]byte, error) {
	u, err := uuid.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid uuid %q", s)
	}
	return u[:], nil
}

// ParseExecID parses "{fp:N}:<uuid>" into partition and uuid bytes with
// the engine's rules and messages. A bare uuid is accepted too: partition
// is then -1 (unknown) and lookups try every partition.
func ParseExecID(s string) (partition int64, id []byte, err error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") {
		id, err = ParseUUID(s)
		return -1, id, err
	}
	p, u, err := codec.ParseExecID(s)
	if err != nil {
		return 0, nil, fmt.Errorf("invalid execution id %q: %v", s, err)
	}
	return int64(p), u[:], nil
}
