package writer

import (
	"context"
	"database/sql"
	"log/slog"
	"sync/atomic"
)

// Background checkpointing. SQLite's automatic checkpoint runs inside the
// COMMIT that pushes the WAL past wal_autocheckpoint pages, so every so
// often one write transaction also copies the WAL into the database file
// and waits for two fsyncs. With Config.Checkpoint the writer instead runs
// a PASSIVE checkpoint on a connection of its own every CheckpointEvery
// committed writes (write transactions' functions; a group commit carries
// several), beside the writer rather than inside one of its transactions:
// on the second core when there is one, and never on a caller's clock.
// The writer connection keeps an automatic checkpoint as a backstop at a
// much larger WAL (BackstopPages), which only matters if the background
// checkpoints cannot keep up.

// BackstopPages is the wal_autocheckpoint to give the writer's
// connections while the background checkpointer runs.
const BackstopPages = 10_000

// checkpointer runs a PASSIVE checkpoint each time the writer's count of
// committed writes passes a multiple of every.
type checkpointer struct {
	db     *sql.DB // one plain connection
	logger *slog.Logger
	every  int64

	writes atomic.Int64
	kick   chan struct{} // capacity 1: requests coalesce
	cancel context.CancelFunc
	done   chan struct{}

	runs, failures atomic.Int64

	// Test hook, set before the first write: ran runs after each
	// checkpoint.
	hooks struct{ ran func() }
}

// startCheckpointer starts the checkpoint loop on db.
func startCheckpointer(db *sql.DB, every int64, logger *slog.Logger) *checkpointer {
	ctx, cancel := context.WithCancel(context.Background())
	c := &checkpointer{
		db: db, logger: logger, every: every,
		kick: make(chan struct{}, 1), cancel: cancel, done: make(chan struct{}),
	}
	go c.loop(ctx)
	return c
}

// committed counts the n writes of one COMMIT and requests a checkpoint
// when the count passes a multiple of c.every. It never blocks the writer.
func (c *checkpointer) committed(n int) {
	after := c.writes.Add(int64(n))
	if after/c.every == (after-int64(n))/c.every {
		return
	}
	select {
	case c.kick <- struct{}{}:
	default: // a request is already pending
	}
}

func (c *checkpointer) loop(ctx context.Context) {
	defer close(c.done)
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.kick:
			c.run(ctx)
		}
	}
}

// run copies what it can of the WAL into the database without waiting for
// readers or the writer (PASSIVE); the writer restarts the WAL from its
// start once every frame has been copied.
func (c *checkpointer) run(ctx context.Context) {
	var busy, logFrames, copied int64
	err := c.db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &copied)
	if ctx.Err() != nil {
		return // closing
	}
	c.runs.Add(1)
	if err != nil {
		c.failures.Add(1)
		c.logger.Debug("background checkpoint failed", "err", err)
	}
	if c.hooks.ran != nil {
		c.hooks.ran()
	}
}

// close stops the loop, waiting for a checkpoint in progress, and closes
// the connection.
func (c *checkpointer) close() error {
	c.cancel()
	<-c.done
	return c.db.Close()
}
