package backend

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"
	"unicode/utf8"
)

// BackendTag names the engine backend that minted a handle (spec §4.5).
type BackendTag uint8

// Backend tags, as their wire bytes.
const (
	BackendValkey   BackendTag = 0x01
	BackendPostgres BackendTag = 0x02
	BackendSQLite   BackendTag = 0x03
)

// String returns upstream's Debug name of the tag.
func (t BackendTag) String() string {
	switch t {
	case BackendValkey:
		return "Valkey"
	case BackendPostgres:
		return "Postgres"
	case BackendSQLite:
		return "Sqlite"
	}
	return fmt.Sprintf("Unknown(0x%02x)", uint8(t))
}

// HandleKind says how the attempt behind a handle was obtained.
type HandleKind uint8

// Handle kinds.
const (
	HandleFresh HandleKind = iota
	HandleResumed
	HandleSuspended
	HandleReclaimed
)

// Handle is the opaque attempt cookie a worker presents on every fenced
// call: the minting backend, the kind, and the v2 opaque bytes.
type Handle struct {
	Backend BackendTag
	Kind    HandleKind
	Opaque  []byte
}

// HandlePayload is what a handle carries (spec §4.5 fields).
type HandlePayload struct {
	ExecutionID      ExecutionID
	AttemptIndex     uint32
	AttemptID        string
	LeaseID          string
	LeaseEpoch       uint64
	LeaseTTLMS       uint64
	LaneID           string
	WorkerInstanceID string
}

// Opaque layout constants.
const (
	handleV2Magic   = 0x02
	handleV2Version = 0x01
	handleV1Tag     = 0x01
)

// EncodeHandle builds a SQLite-tagged handle with the v2 layout: magic
// 0x02, wire version 0x01, backend tag 0x03, then the little-endian
// length-prefixed fields.
func EncodeHandle(kind HandleKind, p HandlePayload) Handle {
	eid := p.ExecutionID.String()
	n := 3 + 4 + len(eid) + 4 + 4 + len(p.AttemptID) + 4 + len(p.LeaseID) + 8 + 8 + 4 + len(p.LaneID) + 4 + len(p.WorkerInstanceID)
	buf := make([]byte, 0, n)
	buf = append(buf, handleV2Magic, handleV2Version, byte(BackendSQLite))
	buf = appendStr(buf, eid)
	buf = binary.LittleEndian.AppendUint32(buf, p.AttemptIndex)
	buf = appendStr(buf, p.AttemptID)
	buf = appendStr(buf, p.LeaseID)
	buf = binary.LittleEndian.AppendUint64(buf, p.LeaseEpoch)
	buf = binary.LittleEndian.AppendUint64(buf, p.LeaseTTLMS)
	buf = appendStr(buf, p.LaneID)
	buf = appendStr(buf, p.WorkerInstanceID)
	return Handle{Backend: BackendSQLite, Kind: kind, Opaque: buf}
}

func appendStr(buf []byte, s string) []byte {
	if len(s) > math.MaxUint32 {
		s = s[:math.MaxUint32]
	}
	buf = binary.LittleEndian.AppendUint32(buf, uint32(len(s)))
	return append(buf, s...)
}

// DecodeHandle checks that h was minted by this backend and decodes it.
// A handle tagged for another backend (the outer tag, or the tag embedded
// in the opaque bytes, including legacy v1 Valkey bytes) is a
// KindValidation error with code "handle_from_other_backend"; malformed
// bytes are a KindValidation error with code "corruption". It never
// panics.
func DecodeHandle(h Handle) (HandlePayload, error) {
	if h.Backend != BackendSQLite {
		return HandlePayload{}, validation("decode_handle", "handle_from_other_backend",
			"HandleFromOtherBackend: expected=%s actual=%s", BackendSQLite, h.Backend)
	}
	tag, p, err := decodeOpaque(h.Opaque)
	if err != nil {
		return HandlePayload{}, validation("decode_handle", "corruption", "Corruption: handle_codec: %s", err)
	}
	if tag != BackendSQLite {
		return HandlePayload{}, validation("decode_handle", "handle_from_other_backend",
			"HandleFromOtherBackend: expected=%s actual=%s (embedded tag)", BackendSQLite, tag)
	}
	return p, nil
}

// handleReader walks the opaque bytes; every read is bounds-checked.
type handleReader struct {
	b   []byte
	pos int
}

func (r *handleReader) take(n int) ([]byte, error) {
	if n < 0 || n > len(r.b)-r.pos {
		return nil, fmt.Errorf("truncated handle: needed %d bytes at offset %d, have %d", n, r.pos, len(r.b))
	}
	s := r.b[r.pos : r.pos+n]
	r.pos += n
	return s, nil
}

func (r *handleReader) u8() (byte, error) {
	s, err := r.take(1)
	if err != nil {
		return 0, err
	}
	return s[0], nil
}

func (r *handleReader) u32() (uint32, error) {
	s, err := r.take(4)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(s), nil
}

func (r *handleReader) u64() (uint64, error) {
	s, err := r.take(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(s), nil
}

func (r *handleReader) str(field string) (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	if uint64(n) > uint64(len(r.b)-r.pos) {
		return "", fmt.Errorf("truncated handle: needed %d bytes at offset %d, have %d", n, r.pos, len(r.b))
	}
	s, err := r.take(int(n))
	if err != nil {
		return "", err
	}
	if !utf8.Valid(s) {
		return "", fmt.Errorf("handle field `%s` is not valid UTF-8", field)
	}
	return string(s), nil
}

// decodeOpaque parses v2 (or legacy v1, implied Valkey) opaque bytes.
func decodeOpaque(b []byte) (BackendTag, HandlePayload, error) {
	r := &handleReader{b: b}
	var p HandlePayload
	lead, err := r.u8()
	if err != nil {
		return 0, p, err
	}
	var tag BackendTag
	switch lead {
	case handleV2Magic:
		v, err := r.u8()
		if err != nil {
			return 0, p, err
		}
		if v != handleV2Version {
			return 0, p, fmt.Errorf("handle v2 wire-version byte %#x not recognised", v)
		}
		t, err := r.u8()
		if err != nil {
			return 0, p, err
		}
		tag = BackendTag(t)
		if tag != BackendValkey && tag != BackendPostgres && tag != BackendSQLite {
			return 0, p, fmt.Errorf("handle backend-tag byte %#x not recognised", t)
		}
	case handleV1Tag:
		tag = BackendValkey
	default:
		return 0, p, fmt.Errorf("handle v1 version byte %#x not recognised (expected 0x1)", lead)
	}
	eid, err := r.str("execution_id")
	if err != nil {
		return 0, p, err
	}
	if p.ExecutionID, err = ParseExecutionID(eid); err != nil {
		return 0, p, fmt.Errorf("handle field `execution_id` parse failed: %s", engErrMsg(err))
	}
	if p.AttemptIndex, err = r.u32(); err != nil {
		return 0, p, err
	}
	if p.AttemptID, err = r.str("attempt_id"); err != nil {
		return 0, p, err
	}
	if _, err := parseUUIDString("attempt_id", p.AttemptID); err != nil {
		return 0, p, fmt.Errorf("handle field `attempt_id` parse failed: %s", engErrMsg(err))
	}
	if p.LeaseID, err = r.str("lease_id"); err != nil {
		return 0, p, err
	}
	if _, err := parseUUIDString("lease_id", p.LeaseID); err != nil {
		return 0, p, fmt.Errorf("handle field `lease_id` parse failed: %s", engErrMsg(err))
	}
	if p.LeaseEpoch, err = r.u64(); err != nil {
		return 0, p, err
	}
	if p.LeaseTTLMS, err = r.u64(); err != nil {
		return 0, p, err
	}
	if p.LaneID, err = r.str("lane_id"); err != nil {
		return 0, p, err
	}
	if p.WorkerInstanceID, err = r.str("worker_instance_id"); err != nil {
		return 0, p, err
	}
	if r.pos != len(b) {
		return 0, p, fmt.Errorf("trailing bytes in handle: pos=%d, len=%d", r.pos, len(b))
	}
	return tag, p, nil
}

func engErrMsg(err error) string {
	if e, ok := err.(*Error); ok {
		return e.Msg
	}
	return err.Error()
}

// MarshalText renders the handle as one URL-safe base64 token
// (backend tag, kind, opaque bytes), for transports that carry strings.
func (h Handle) MarshalText() ([]byte, error) {
	raw := make([]byte, 0, 2+len(h.Opaque))
	raw = append(raw, byte(h.Backend), byte(h.Kind))
	raw = append(raw, h.Opaque...)
	out := make([]byte, base64.RawURLEncoding.EncodedLen(len(raw)))
	base64.RawURLEncoding.Encode(out, raw)
	return out, nil
}

// UnmarshalText parses the token MarshalText produces. It checks only the
// framing; DecodeHandle validates the contents.
func (h *Handle) UnmarshalText(b []byte) error {
	raw := make([]byte, base64.RawURLEncoding.DecodedLen(len(b)))
	n, err := base64.RawURLEncoding.Decode(raw, b)
	if err != nil || n < 2 {
		return validation("decode_handle", "corruption", "Corruption: handle token is not valid base64url")
	}
	*h = Handle{Backend: BackendTag(raw[0]), Kind: HandleKind(raw[1]), Opaque: raw[2:n]}
	return nil
}

// String returns the text token.
func (h Handle) String() string {
	b, _ := h.MarshalText()
	return string(b)
}
