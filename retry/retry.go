// Package retry absorbs SQLite's transient lock errors. A write transaction
// that hits SQLITE_BUSY or SQLITE_LOCKED (any extended code of either family)
// is run again from its BEGIN, a bounded number of times, with a short
// doubling backoff; every other error returns at once.
package retry

import (
	"context"
	"errors"
	"time"

	"modernc.org/sqlite"
)

// MaxAttempts is how many times Serializable calls its function at most,
// counting the first call. It matches upstream's MAX_ATTEMPTS.
const MaxAttempts = 3

// BaseBackoff is the pause after the first retryable failure; each later
// pause doubles it (5 ms, then 10 ms), with no jitter.
const BaseBackoff = 5 * time.Millisecond

// Primary SQLite result codes whose families are retryable.
const (
	codeBusy   = 5
	codeLocked = 6
)

// IsRetryableBusy reports whether err, or any error it wraps, is a SQLite
// error whose result code's low byte is SQLITE_BUSY (5) or SQLITE_LOCKED (6).
// Extended codes such as BUSY_SNAPSHOT (517) or LOCKED_SHAREDCACHE (262)
// count; CONSTRAINT, CORRUPT, FULL, IOERR, MISUSE and non-database errors do
// not.
func IsRetryableBusy(err error) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	switch se.Code() & 0xff {
	case codeBusy, codeLocked:
		return true
	}
	return false
}

// Backoff returns the pause after the retryable failure of attempt k
// (0-based): BaseBackoff << k.
func Backoff(k int) time.Duration { return BaseBackoff << k }

// Sleeper waits for d or until ctx is done, whichever comes first, and
// returns ctx.Err() in the latter case. Tests inject one to avoid wall-clock
// sleeps.
type Sleeper func(ctx context.Context, d time.Duration) error

// Serializable runs fn, and runs it again on a retryable busy error, up to
// MaxAttempts calls in all. fn must be a whole transaction (BEGIN to COMMIT),
// so that a retry starts from scratch. A non-retryable error is returned at
// once; after the last attempt the last busy error is returned unchanged.
// Cancelling ctx stops the waiting between attempts.
func Serializable(ctx context.Context, fn func(ctx context.Context) error) error {
	return SerializableWith(ctx, sleepCtx, fn)
}

// SerializableWith is Serializable with an injected sleeper.
func SerializableWith(ctx context.Context, sleep Sleeper, fn func(ctx context.Context) error) error {
	var err error
	for k := 0; k < MaxAttempts; k++ {
		err = fn(ctx)
		if err == nil || !IsRetryableBusy(err) {
			return err
		}
		if k == MaxAttempts-1 {
			break
		}
		if serr := sleep(ctx, Backoff(k)); serr != nil {
			return err
		}
	}
	return err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
