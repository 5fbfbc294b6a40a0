package backend_test

import (
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
)

func engPayload() backend.HandlePayload {
	return backend.HandlePayload{
		ExecutionID:  backend.MustParseExecutionID("{fp:3}:0f8fad5b-d9cb-469f-a165-70867728950e"),
		AttemptIndex: 2, AttemptID: "5b2a9a4e-2f5c-4d0e-9d61-0f1f1b0c2a11",
		LeaseID: "9c0e3f4a-7b1d-4c2e-8f3a-1a2b3c4d5e6f", LeaseEpoch: 7, LeaseTTLMS: 30000,
		LaneID: "default", WorkerInstanceID: "worker-1",
	}
}

// engOpaque builds opaque bytes by hand (lead bytes + fields).
func engOpaque(lead []byte, p backend.HandlePayload) []byte {
	b := append([]byte(nil), lead...)
	str := func(s string) {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(s)))
		b = append(b, s...)
	}
	str(p.ExecutionID.String())
	b = binary.LittleEndian.AppendUint32(b, p.AttemptIndex)
	str(p.AttemptID)
	str(p.LeaseID)
	b = binary.LittleEndian.AppendUint64(b, p.LeaseEpoch)
	b = binary.LittleEndian.AppendUint64(b, p.LeaseTTLMS)
	str(p.LaneID)
	str(p.WorkerInstanceID)
	return b
}

func TestHandleRoundTripAndLayout(t *testing.T) {
	t.Parallel()
	p := engPayload()
	h := backend.EncodeHandle(backend.HandleFresh, p)
	if h.Backend != backend.BackendSQLite || h.Kind != backend.HandleFresh {
		t.Fatalf("handle tags = %v %v", h.Backend, h.Kind)
	}
	if want := engOpaque([]byte{0x02, 0x01, 0x03}, p); !bytes.Equal(h.Opaque, want) {
		t.Fatalf("opaque layout:\n got %x\nwant %x", h.Opaque, want)
	}
	back, err := backend.DecodeHandle(h)
	if err != nil || back != p {
		t.Fatalf("DecodeHandle = %+v, %v", back, err)
	}
	// Text token round trip.
	var h2 backend.Handle
	if err := h2.UnmarshalText([]byte(h.String())); err != nil {
		t.Fatal(err)
	}
	if back, err := backend.DecodeHandle(h2); err != nil || back != p || h2.Kind != h.Kind {
		t.Fatalf("token round trip = %+v, %v", back, err)
	}
}

func TestDecodeHandleRejects(t *testing.T) {
	t.Parallel()
	p := engPayload()
	good := engOpaque([]byte{0x02, 0x01, 0x03}, p)
	cases := []struct {
		name   string
		h      backend.Handle
		code   string
		detail string
	}{
		{"outer valkey", backend.Handle{Backend: backend.BackendValkey, Opaque: engOpaque([]byte{2, 1, 1}, p)}, "handle_from_other_backend", "expected=Sqlite actual=Valkey"},
		{"outer postgres", backend.Handle{Backend: backend.BackendPostgres, Opaque: good}, "handle_from_other_backend", "expected=Sqlite actual=Postgres"},
		{"embedded postgres", backend.Handle{Backend: backend.BackendSQLite, Opaque: engOpaque([]byte{2, 1, 2}, p)}, "handle_from_other_backend", "actual=Postgres (embedded tag)"},
		{"legacy v1 is valkey", backend.Handle{Backend: backend.BackendSQLite, Opaque: engOpaque([]byte{1}, p)}, "handle_from_other_backend", "actual=Valkey (embedded tag)"},
		{"empty", backend.Handle{Backend: backend.BackendSQLite}, "corruption", "truncated handle"},
		{"bad magic", backend.Handle{Backend: backend.BackendSQLite, Opaque: append([]byte{9}, good[1:]...)}, "corruption", "version byte 0x9"},
		{"bad wire version", backend.Handle{Backend: backend.BackendSQLite, Opaque: append([]byte{2, 9}, good[2:]...)}, "corruption", "wire-version byte 0x9"},
		{"bad tag", backend.Handle{Backend: backend.BackendSQLite, Opaque: append([]byte{2, 1, 9}, good[3:]...)}, "corruption", "backend-tag byte 0x9"},
		{"truncated", backend.Handle{Backend: backend.BackendSQLite, Opaque: good[:len(good)-1]}, "corruption", "truncated handle"},
		{"trailing", backend.Handle{Backend: backend.BackendSQLite, Opaque: append(append([]byte(nil), good...), 0)}, "corruption", "trailing bytes"},
		{"huge length", backend.Handle{Backend: backend.BackendSQLite, Opaque: []byte{2, 1, 3, 0xff, 0xff, 0xff, 0xff}}, "corruption", "truncated handle"},
	}
	bad := p
	bad.LeaseID = "not-a-uuid"
	cases = append(cases, struct {
		name   string
		h      backend.Handle
		code   string
		detail string
	}{"bad lease id", backend.Handle{Backend: backend.BackendSQLite, Opaque: engOpaque([]byte{2, 1, 3}, bad)}, "corruption", "`lease_id` parse failed"})
	for _, c := range cases {
		_, err := backend.DecodeHandle(c.h)
		engWantCode(t, err, backend.KindValidation, c.code)
		if !strings.Contains(err.Error(), c.detail) {
			t.Errorf("%s: error %q lacks %q", c.name, err, c.detail)
		}
	}
}

func FuzzDecodeHandle(f *testing.F) {
	p := engPayload()
	f.Add(engOpaque([]byte{2, 1, 3}, p))
	f.Add(engOpaque([]byte{2, 1, 1}, p))
	f.Add(engOpaque([]byte{1}, p))
	f.Add([]byte{})
	f.Add([]byte{2, 1, 3, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{2, 1, 3, 4, 0, 0, 0, '{', 'f', 'p', ':'})
	f.Fuzz(func(t *testing.T, opaque []byte) {
		got, err := backend.DecodeHandle(backend.Handle{Backend: backend.BackendSQLite, Opaque: opaque})
		if err != nil {
			if backend.KindOf(err) != backend.KindValidation {
				t.Fatalf("error of kind %v: %v", backend.KindOf(err), err)
			}
			return
		}
		// Whatever decodes re-encodes (canonically) and decodes the same.
		back, err := backend.DecodeHandle(backend.EncodeHandle(backend.HandleFresh, got))
		if err != nil || back != got {
			t.Fatalf("re-decode = %+v, %v; want %+v", back, err, got)
		}
	})
}
