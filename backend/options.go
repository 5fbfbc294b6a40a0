package backend

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Defaults applied by Options.withDefaults.
const (
	// DefaultPoolSize is the read pool size when neither the option nor
	// FF_SQLITE_POOL_SIZE sets one (upstream's default).
	DefaultPoolSize = 4
	// DefaultBusyTimeout is SQLite's own busy handler wait before a lock
	// error reaches the retry wrapper (sqlx's default, which upstream uses).
	DefaultBusyTimeout = 5 * time.Second
	// DefaultSynchronous is the synchronous pragma for file databases. WAL
	// with NORMAL loses no committed transaction on a process crash, only on
	// power loss, which is the right trade for a dev database.
	DefaultSynchronous = "NORMAL"
	// DefaultPageSize is the page size of a database file ffsqlite creates.
	// A transition touches many b-trees (the schema's indexes, the attempt
	// row, outbox rows) and each touched page goes to the WAL whole at
	// commit, so pages half SQLite's default 4096 make commits cheaper:
	// ~25 % more lifecycles per second at 1 worker, also with 2 KB and
	// 8 KB payloads (README, Speed).
	DefaultPageSize = 2048
	// DefaultCheckpointEvery is how many committed writes pass between two
	// background checkpoints (backend/internal/writer/checkpoint.go): ~2 MB
	// of WAL at 2 KB pages. Of 32, 64, 128, 256 and 1024 measured, 64–256
	// did best.
	DefaultCheckpointEvery = 128
	// DefaultWriterCacheMiB is the writer connections' page cache. Against
	// SQLite's own 2 MB (BenchmarkWriterCache, README Speed): the same at
	// 100,000 executions, 1.06–1.12× faster per job at 1,000,000; 64 MiB
	// did no better at 1,000,000 and was slower at 100,000. The cache grows
	// only as pages are read, so a small database never fills it.
	DefaultWriterCacheMiB = 16
	// DefaultWaitpointHMACGrace is how long a rotated-out waitpoint key
	// keeps verifying tokens (upstream's FF_WAITPOINT_HMAC_GRACE_MS
	// default, 24 h).
	DefaultWaitpointHMACGrace = 24 * time.Hour
)

// PoolSizeEnv is the environment variable that sizes the read pool.
const PoolSizeEnv = "FF_SQLITE_POOL_SIZE"

// Options tunes Open. The zero value is valid: every field has a named
// default. Options only matter on a registry miss; a second Open of a live
// path shares the first backend and ignores them, as upstream does.
type Options struct {
	// PoolSize is the number of read connections. Defaults to
	// DefaultPoolSize. Writes always go through one dedicated connection.
	PoolSize int
	// Synchronous is the synchronous pragma (OFF, NORMAL, FULL, EXTRA) for
	// file databases. Defaults to DefaultSynchronous.
	Synchronous string
	// BusyTimeout is SQLite's busy handler wait. Defaults to
	// DefaultBusyTimeout.
	BusyTimeout time.Duration
	// PageSize is the page size a new database file is created with (the
	// page_size pragma): a power of two from 512 to 65536. It never changes
	// an existing file. Defaults to DefaultPageSize.
	PageSize int
	// CheckpointEvery is how many committed writes (engine write
	// transactions) pass between two background WAL checkpoints on a file
	// database (backend/internal/writer/checkpoint.go). Defaults to
	// DefaultCheckpointEvery; a negative value turns the background
	// checkpointer off, leaving SQLite's automatic checkpoint inside
	// commits.
	CheckpointEvery int
	// WriterCacheMiB is the page cache of the engine's writer connections
	// (the cache_size pragma), in MiB. Defaults to DefaultWriterCacheMiB.
	WriterCacheMiB int
	// WaitpointHMACGrace is how long a waitpoint key rotated out keeps
	// verifying the tokens it signed (hmac.go). Defaults to
	// DefaultWaitpointHMACGrace; a negative value means no grace.
	WaitpointHMACGrace time.Duration
	// DisableWAL keeps the file's journal mode instead of switching it to
	// WAL.
	DisableWAL bool
	// ReadOnly opens query-only connections and no writer: nothing can
	// change the file (inspect uses this). Write operations fail.
	ReadOnly bool
	// MustExist refuses to create a missing database file.
	MustExist bool
	// CreateDirs creates missing parent directories of a file database.
	CreateDirs bool
	// Logger receives the WARN banner and operational logs. Defaults to
	// slog.Default().
	Logger *slog.Logger
	// Now is the engine's clock. Defaults to time.Now. Tests inject one.
	Now func() time.Time
	// LeaseExpiry is what the lease-expiry reconciler does with an expired
	// lease (reclaim.go); empty means LeaseExpiryRequeue.
	LeaseExpiry LeaseExpiryMode
}

var validSynchronous = []string{"OFF", "NORMAL", "FULL", "EXTRA"}

func (o Options) withDefaults() Options {
	if o.PoolSize == 0 {
		o.PoolSize = DefaultPoolSize
	}
	if o.Synchronous == "" {
		o.Synchronous = DefaultSynchronous
	}
	o.Synchronous = strings.ToUpper(o.Synchronous)
	if o.BusyTimeout == 0 {
		o.BusyTimeout = DefaultBusyTimeout
	}
	if o.PageSize == 0 {
		o.PageSize = DefaultPageSize
	}
	if o.CheckpointEvery == 0 {
		o.CheckpointEvery = DefaultCheckpointEvery
	}
	if o.WriterCacheMiB == 0 {
		o.WriterCacheMiB = DefaultWriterCacheMiB
	}
	if o.WaitpointHMACGrace == 0 {
		o.WaitpointHMACGrace = DefaultWaitpointHMACGrace
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// validate says exactly which option is wrong.
func (o Options) validate() error {
	if o.PoolSize < 1 {
		return fmt.Errorf("invalid pool size %d: must be > 0", o.PoolSize)
	}
	if err := o.LeaseExpiry.check(); err != nil {
		return err
	}
	if o.BusyTimeout < 0 {
		return fmt.Errorf("invalid busy timeout %s: must not be negative", o.BusyTimeout)
	}
	if o.WriterCacheMiB < 1 || o.WriterCacheMiB > 1<<20 {
		return fmt.Errorf("invalid writer cache %d MiB: must be 1 to %d", o.WriterCacheMiB, 1<<20)
	}
	if p := o.PageSize; p < 512 || p > 65536 || p&(p-1) != 0 {
		return fmt.Errorf("invalid page size %d: must be a power of two from 512 to 65536", p)
	}
	for _, s := range validSynchronous {
		if o.Synchronous == s {
			return nil
		}
	}
	return fmt.Errorf("invalid synchronous mode %q: expected one of %s", o.Synchronous, strings.Join(validSynchronous, ", "))
}

// ParsePoolSize parses a pool size the way upstream parses
// FF_SQLITE_POOL_SIZE, with its error texts.
func ParsePoolSize(v string) (int, error) {
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("invalid value for %s: expected u32, got '%s'", PoolSizeEnv, v)
	}
	if n == 0 {
		return 0, fmt.Errorf("invalid value for %s: must be > 0 (semaphore size)", PoolSizeEnv)
	}
	return int(n), nil
}
