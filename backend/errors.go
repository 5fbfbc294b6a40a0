package backend

import (
	"errors"
	"fmt"
)

// Kind classifies an engine error the way callers branch on it; the HTTP
// layer maps each kind to a status code and envelope.
type Kind int

// The error kinds of the engine's one typed error family.
const (
	// KindNotFound: the execution, budget, worker … does not exist.
	KindNotFound Kind = iota + 1
	// KindValidation: the request is malformed; Error.Validation names how.
	KindValidation
	// KindConflict: a uniqueness or revision conflict (duplicate edge, stale
	// graph revision, already a member of another flow).
	KindConflict
	// KindContention: the caller's lease or fence is stale (wrong epoch,
	// expired, revoked) or another writer won a race; retrying with fresh
	// state may succeed.
	KindContention
	// KindState: the operation is not allowed in the execution's current
	// state (cancel a terminal execution, change priority while active).
	KindState
	// KindUnavailable: the operation is not supported by this backend.
	KindUnavailable
	// KindTransport: the database failed (I/O, exhausted busy retries).
	KindTransport
)

var kindNames = map[Kind]string{
	KindNotFound:    "not_found",
	KindValidation:  "validation",
	KindConflict:    "conflict",
	KindContention:  "contention",
	KindState:       "state",
	KindUnavailable: "unavailable",
	KindTransport:   "transport",
}

// String returns the snake_case name of the kind.
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is the engine's error type. Op names the operation ("claim"),
// Code is a stable machine-readable detail ("stale_lease",
// "invalid_policy_json", "execution"), Msg is for humans and Err is the
// underlying cause, if any.
type Error struct {
	Kind Kind
	Op   string
	Code string
	Msg  string
	Err  error
}

// Error renders "op: msg" (or the code when there is no message) and the
// cause.
func (e *Error) Error() string {
	s := e.Msg
	if s == "" {
		s = e.Code
	}
	if e.Op != "" {
		s = e.Op + ": " + s
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is lets errors.Is(err, &Error{Kind: K}) match any error of kind K, and
// also match on Code when the target sets one.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	if !ok {
		return false
	}
	if t.Kind != 0 && t.Kind != e.Kind {
		return false
	}
	return t.Code == "" || t.Code == e.Code
}

// Sentinels to use with errors.Is for the common kinds.
var (
	ErrNotFound    = &Error{Kind: KindNotFound}
	ErrValidation  = &Error{Kind: KindValidation}
	ErrConflict    = &Error{Kind: KindConflict}
	ErrContention  = &Error{Kind: KindContention}
	ErrState       = &Error{Kind: KindState}
	ErrUnavailable = &Error{Kind: KindUnavailable}
	ErrTransport   = &Error{Kind: KindTransport}
)

// KindOf returns the Kind of err if it is (or wraps) an *Error, else 0.
func KindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func newErr(kind Kind, op, code, format string, args ...any) *Error {
	return &Error{Kind: kind, Op: op, Code: code, Msg: fmt.Sprintf(format, args...)}
}

// notFound builds a KindNotFound error whose Code names what is missing.
func notFound(op, what string) *Error {
	return &Error{Kind: KindNotFound, Op: op, Code: what, Msg: "not found: " + what}
}

// execNotFound is the NotFound error for a missing execution, with the
// wire message "execution not found: <eid>".
func execNotFound(op string, id ExecutionID) error {
	return &Error{Kind: KindNotFound, Op: op, Code: "execution", Msg: "execution not found: " + id.String()}
}

// validation builds a KindValidation error with a detail code.
func validation(op, code, format string, args ...any) *Error {
	return newErr(KindValidation, op, code, format, args...)
}

// transport wraps a database failure.
func transport(op string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Kind: KindTransport, Op: op, Code: "sqlite", Msg: "sqlite", Err: err}
}
