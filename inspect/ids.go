package inspect

import (
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
)

// ExecID builds the wire execution id "{fp:N}:<uuid>" from its stored
// parts (partition_key and the 16-byte uuid BLOB).
func ExecID(partition int64, id []byte) string {
	return "{fp:" + strconv.FormatInt(partition, 10) + "}:" + UUIDString(id)
}

// UUIDString formats a 16-byte uuid BLOB as the lower-case hyphenated form.
// Any other length (never written by ffsqlite) is shown as "x'<hex>'" so it
// is still recognisable.
func UUIDString(b []byte) string {
	if len(b) != 16 {
		return "x'" + hex.EncodeToString(b) + "'"
	}
	var s [36]byte
	hex.Encode(s[0:8], b[0:4])
	s[8] = '-'
	hex.Encode(s[9:13], b[4:6])
	s[13] = '-'
	hex.Encode(s[14:18], b[6:8])
	s[18] = '-'
	hex.Encode(s[19:23], b[8:10])
	s[23] = '-'
	hex.Encode(s[24:], b[10:16])
	return string(s[:])
}

// ParseUUID parses a hyphenated (or bare 32-digit) uuid into its 16 bytes.
func ParseUUID(s string) ([]byte, error) {
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 || (len(s) != 32 && len(s) != 36) {
		return nil, fmt.Errorf("invalid uuid %q", s)
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return nil, fmt.Errorf("invalid uuid %q", s)
	}
	return b, nil
}

// ParseExecID parses "{fp:N}:<uuid>" into partition and uuid bytes. A bare
// uuid is accepted too: partition is then -1 (unknown) and lookups try
// every partition.
func ParseExecID(s string) (partition int64, id []byte, err error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "{") {
		id, err = ParseUUID(s)
		return -1, id, err
	}
	rest, ok := strings.CutPrefix(s, "{fp:")
	end := strings.Index(rest, "}:")
	if !ok || end < 0 {
		return 0, nil, fmt.Errorf("invalid execution id %q: want {fp:N}:<uuid>", s)
	}
	partition, err = strconv.ParseInt(rest[:end], 10, 64)
	if err != nil || partition < 0 {
		return 0, nil, fmt.Errorf("invalid execution id %q: bad partition", s)
	}
	id, err = ParseUUID(rest[end+2:])
	if err != nil {
		return 0, nil, fmt.Errorf("invalid execution id %q: %w", s, err)
	}
	return partition, id, nil
}
