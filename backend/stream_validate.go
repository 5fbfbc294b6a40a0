package backend

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The input rules of attempt streams (append, read, tail, progress), each
// written once; the REST layer answers their messages as they are.

// Limits of the stream rules (engine-canonical.md §2.3).
const (
	// MaxFramePayloadBytes is the largest frame payload an append takes.
	MaxFramePayloadBytes = 65536
	// MaxFrameTypeBytes is the longest frame_type.
	MaxFrameTypeBytes = 256
	// MaxCorrelationIDBytes is the longest correlation_id.
	MaxCorrelationIDBytes = 256
	// MaxStreamReadLimit is the REST ceiling of a read or tail's limit.
	MaxStreamReadLimit = 1000
	// MaxTailBlockMS is the longest a tail may wait for a frame.
	MaxTailBlockMS = 30000
	// MaxBestEffortTTLMS bounds a best-effort frame's ttl_ms (one day).
	MaxBestEffortTTLMS = 86_400_000
	// MaxProgressMessageBytes is the longest progress message.
	MaxProgressMessageBytes = 4096
)

// The append modes (the frames' mode column).
const (
	// ModeDurable frames are kept up to the durable retention (10,000).
	ModeDurable = "durable"
	// ModeSummary frames carry a JSON merge patch applied to the attempt's
	// summary document.
	ModeSummary = "summary"
	// ModeBestEffort frames are live output trimmed by the append rate.
	ModeBestEffort = "best_effort"
)

// checkAppend checks an append's payload size, frame type, mode,
// correlation id and ttl, in that order, and returns the mode ("" is
// durable).
func checkAppend(a AppendFrameArgs) (string, error) {
	if len(a.Payload) > MaxFramePayloadBytes {
		return "", validation("", "retention_limit_exceeded", "frame payload is %d bytes, over the %d-byte limit",
			len(a.Payload), MaxFramePayloadBytes)
	}
	switch {
	case a.FrameType == "":
		return "", validation("", "invalid_frame_type", "frame_type: must not be empty")
	case len(a.FrameType) > MaxFrameTypeBytes:
		return "", validation("", "invalid_frame_type", "frame_type: exceeds %d bytes (got %d)", MaxFrameTypeBytes, len(a.FrameType))
	case strings.ContainsFunc(a.FrameType, isControl):
		return "", validation("", "invalid_frame_type", "frame_type: must not contain control characters")
	}
	mode := a.Mode
	switch mode {
	case "":
		mode = ModeDurable
	case ModeDurable, ModeSummary, ModeBestEffort:
	default:
		return "", validation("", "invalid_input", "mode: must be %s, %s or %s (got %q)", ModeDurable, ModeSummary, ModeBestEffort, a.Mode)
	}
	if len(a.CorrelationID) > MaxCorrelationIDBytes {
		return "", validation("", "invalid_input", "correlation_id: exceeds %d bytes (got %d)", MaxCorrelationIDBytes, len(a.CorrelationID))
	}
	if a.TTLMS < 0 || a.TTLMS > MaxBestEffortTTLMS {
		return "", validation("", "invalid_input", "ttl_ms: must be 0..=%d (got %d)", MaxBestEffortTTLMS, a.TTLMS)
	}
	if a.TTLMS != 0 && mode != ModeBestEffort {
		return "", validation("", "invalid_input", "ttl_ms: only a best_effort frame takes a ttl")
	}
	return mode, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// checkProgress checks a progress update: a percentage 0..=100 and a
// message of at most MaxProgressMessageBytes.
func checkProgress(pct int, message string) error {
	if pct < 0 || pct > 100 {
		return validation("", "invalid_input", "progress_pct: must be 0..=100 (got %d)", pct)
	}
	if len(message) > MaxProgressMessageBytes {
		return validation("", "invalid_input", "message: exceeds %d bytes (got %d)", MaxProgressMessageBytes, len(message))
	}
	return nil
}

// StreamCursor is a position in an attempt's stream: frame <MS>-<Seq>.
type StreamCursor struct {
	MS, Seq int64
}

// String renders the cursor as a frame id, "<ms>-<seq>".
func (c StreamCursor) String() string {
	return strconv.FormatInt(c.MS, 10) + "-" + strconv.FormatInt(c.Seq, 10)
}

// Stream cursor bounds: before every frame and after every frame.
var (
	StreamStart = StreamCursor{0, 0}
	StreamEnd   = StreamCursor{math.MaxInt64, math.MaxInt64}
)

// CursorError is a cursor that does not parse; the REST layer answers it
// as upstream's query extractor does (a plain-text 400).
type CursorError struct {
	// Field is the query parameter (from, to, after), Value what it held.
	Field, Value string
	// Why says what is wrong.
	Why string
}

// Error renders "<field>: invalid stream cursor <value>: <why>".
func (e *CursorError) Error() string {
	return fmt.Sprintf("%s: invalid stream cursor %q: %s", e.Field, e.Value, e.Why)
}

const cursorGrammar = "expected start, end, <ms> or <ms>-<seq>"

// ParseStreamCursor parses a read's from (upper false) or to (upper true)
// cursor: start, end, <ms> (the first frame of that ms for from, the last
// for to) or <ms>-<seq>. Bare - and + are refused, as upstream does.
func ParseStreamCursor(field, v string, upper bool) (StreamCursor, error) {
	switch v {
	case "start":
		return StreamStart, nil
	case "end":
		return StreamEnd, nil
	}
	ms, seq, hasSeq, err := parseFrameID(v)
	if err != nil {
		return StreamCursor{}, &CursorError{Field: field, Value: v, Why: err.Error()}
	}
	if !hasSeq {
		seq = 0
		if upper {
			seq = math.MaxInt64
		}
	}
	return StreamCursor{ms, seq}, nil
}

// ErrTailCursorNotConcrete is a tail's after given as start or end, with
// upstream's message.
var ErrTailCursorNotConcrete = validation("", "invalid_input",
	"after: XREAD cursor must be a concrete entry id; pass '0-0' to start from the beginning")

// ParseTailCursor parses a tail's after: a concrete <ms>-<seq> or <ms>
// (= <ms>-0); start and end are ErrTailCursorNotConcrete, anything else a
// *CursorError.
func ParseTailCursor(v string) (StreamCursor, error) {
	if v == "start" || v == "end" {
		return StreamCursor{}, ErrTailCursorNotConcrete
	}
	ms, seq, _, err := parseFrameID(v)
	if err != nil {
		return StreamCursor{}, &CursorError{Field: "after", Value: v, Why: err.Error()}
	}
	return StreamCursor{ms, seq}, nil
}

// parseFrameID parses "<ms>" or "<ms>-<seq>", both non-negative decimal
// integers.
func parseFrameID(v string) (ms, seq int64, hasSeq bool, err error) {
	if v == "-" || v == "+" {
		return 0, 0, false, fmt.Errorf("bare %s is not accepted; %s", v, cursorGrammar)
	}
	msPart, seqPart, hasSeq := strings.Cut(v, "-")
	if ms, err = parseCursorInt(msPart); err != nil {
		return 0, 0, false, fmt.Errorf("%s", cursorGrammar)
	}
	if hasSeq {
		if seq, err = parseCursorInt(seqPart); err != nil {
			return 0, 0, false, fmt.Errorf("%s", cursorGrammar)
		}
	}
	return ms, seq, hasSeq, nil
}

func parseCursorInt(s string) (int64, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, strconv.ErrSyntax
	}
	return strconv.ParseInt(s, 10, 64)
}

// CheckStreamLimit checks a read (tail false) or tail's limit against the
// REST range 1..=MaxStreamReadLimit with upstream's messages.
func CheckStreamLimit(limit int, tail bool) error {
	if limit < 1 {
		return validation("", "invalid_input", "limit must be >= 1")
	}
	if limit > MaxStreamReadLimit {
		via := "from/to"
		if tail {
			via = "after"
		}
		return validation("", "invalid_input", "limit exceeds REST ceiling %d; paginate via %s for larger spans", MaxStreamReadLimit, via)
	}
	return nil
}

// CheckTailBlock checks a tail's block_ms: 0..=MaxTailBlockMS.
func CheckTailBlock(ms int64) error {
	if ms < 0 {
		return validation("", "invalid_input", "block_ms must not be negative")
	}
	if ms > MaxTailBlockMS {
		return validation("", "invalid_input", "block_ms exceeds %dms ceiling", MaxTailBlockMS)
	}
	return nil
}

// lossyUTF8 is b with each maximal ill-formed subsequence replaced by one
// U+FFFD, as Rust's String::from_utf8_lossy (canonical's conversion of a
// frame payload) does: "\xff\xfe" becomes two, a sequence cut short
// ("\xe2\x82") one. Valid input is returned as it is.
func lossyUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		c := b[i]
		if c < utf8.RuneSelf {
			out = append(out, c)
			i++
			continue
		}
		// The length of the sequence c leads and the range its second
		// byte must be in (Unicode's table of well-formed sequences).
		n, lo, hi := 0, byte(0x80), byte(0xbf)
		switch {
		case c >= 0xc2 && c <= 0xdf:
			n = 2
		case c == 0xe0:
			n, lo = 3, 0xa0
		case c >= 0xe1 && c <= 0xec, c == 0xee, c == 0xef:
			n = 3
		case c == 0xed:
			n, hi = 3, 0x9f
		case c == 0xf0:
			n, lo = 4, 0x90
		case c >= 0xf1 && c <= 0xf3:
			n = 4
		case c == 0xf4:
			n, hi = 4, 0x8f
		}
		j := i + 1 // past the longest prefix of a well-formed sequence
		for k := 1; k < n && j < len(b); k++ {
			if k == 1 && (b[j] < lo || b[j] > hi) || k > 1 && (b[j] < 0x80 || b[j] > 0xbf) {
				break
			}
			j++
		}
		if n > 0 && j-i == n {
			out = append(out, b[i:j]...)
		} else {
			out = append(out, "\uFFFD"...)
		}
		i = j
	}
	return out
}
