package backend_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// walCounter counts the frames of the current WAL generation of a
// database: frames follow the WAL's 32-byte header back to back, and a
// frame belongs to the generation while its salts equal the header's. It
// reads only what was appended since its last count (the tests turn
// checkpoints off, so the WAL only grows).
type walCounter struct {
	t      *testing.T
	f      *os.File
	salt   []byte
	frame  int64 // 24-byte frame header + page
	frames int
}

func newWALCounter(t *testing.T, path string) *walCounter {
	t.Helper()
	f, err := os.Open(path + "-wal")
	if err != nil {
		t.Fatalf("open WAL: %v", err)
	}
	t.Cleanup(func() { f.Close() })
	hdr := make([]byte, 32)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		t.Fatalf("read WAL header: %v", err)
	}
	c := &walCounter{t: t, f: f, salt: hdr[16:24], frame: 24 + int64(binary.BigEndian.Uint32(hdr[8:12]))}
	c.count()
	return c
}

// count returns the number of frames in the WAL now.
func (c *walCounter) count() int {
	hdr := make([]byte, 24)
	for {
		off := 32 + int64(c.frames)*c.frame
		if _, err := c.f.ReadAt(hdr, off); err != nil {
			return c.frames // io.EOF: no further frame
		}
		if !bytes.Equal(hdr[8:16], c.salt) {
			return c.frames
		}
		if st, err := c.f.Stat(); err != nil || st.Size() < off+c.frame {
			return c.frames
		}
		c.frames++
	}
}

// TestWALFramesPerJob pins how many WAL frames (pages) each step of the
// lifecycle writes, averaged over many jobs, and logs the raw queue
// baseline's count beside it. WAL frames are what a commit costs (two
// writes each), so a change that makes a transition dirty more pages
// shows up here rather than only as a slower benchmark.
func TestWALFramesPerJob(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "ff.db")
	e := testdb.OpenPath(t, path)
	// The writer pool is one connection, so the pragma sticks: no
	// checkpoint restarts the WAL while the test counts.
	if _, err := e.WriterDB().ExecContext(ctx, "PRAGMA wal_autocheckpoint=0"); err != nil {
		t.Fatal(err)
	}
	for range 50 { // grow the b-trees past their first pages
		engLifecycle(t, e)
	}
	const jobs = 200
	var create, claim, complete int
	wal := newWALCounter(t, path)
	for range jobs {
		f0 := wal.count()
		if _, err := e.CreateExecution(ctx, engArgs()); err != nil {
			t.Fatal(err)
		}
		f1 := wal.count()
		l := engClaim(t, e)
		f2 := wal.count()
		if err := e.Complete(ctx, l.Handle, []byte("done")); err != nil {
			t.Fatal(err)
		}
		f3 := wal.count()
		create, claim, complete = create+f1-f0, claim+f2-f1, complete+f3-f2
	}
	avg := func(n int) float64 { return float64(n) / jobs }
	raw := rawQueueFrames(t, jobs)
	t.Logf("WAL frames per job: create %.2f, claim %.2f, complete %.2f, total %.2f = %.0f KiB (raw queue %.2f); page size %d",
		avg(create), avg(claim), avg(complete), avg(create+claim+complete),
		avg(create+claim+complete)*float64(backend.DefaultPageSize)/1024, raw, backend.DefaultPageSize)
	// 3 + 10 + 12 pages when no b-tree splits; a split adds a page or two
	// now and then (measured with 2048-byte pages: 3.50, 10.61, 13.40).
	for _, c := range []struct {
		step string
		got  float64
		max  float64
	}{{"create", avg(create), 4}, {"claim", avg(claim), 11}, {"complete", avg(complete), 14}} {
		if c.got > c.max {
			t.Errorf("%s writes %.2f WAL frames per job, want <= %.1f", c.step, c.got, c.max)
		}
	}
	if raw <= 0 {
		t.Errorf("raw queue baseline wrote %.2f frames per job", raw)
	}
}

// engLifecycle runs one create → claim → complete.
func engLifecycle(t *testing.T, e *backend.Backend) {
	t.Helper()
	if _, err := e.CreateExecution(engCtx, engArgs()); err != nil {
		t.Fatal(err)
	}
	l := engClaim(t, e)
	if err := e.Complete(engCtx, l.Handle, []byte("done")); err != nil {
		t.Fatal(err)
	}
}

// rawQueueFrames runs jobs lifecycles of the raw queue baseline (rawQueue)
// and returns its WAL frames per job.
func rawQueueFrames(t *testing.T, jobs int) float64 {
	t.Helper()
	db, path := openRawDB(t, rawQueue, "&_pragma=wal_autocheckpoint(0)")
	payload := []byte(`{"job":true}`)
	job := func(now int64) {
		var id int64
		for _, step := range []func() error{
			func() error { return db.QueryRow(rawQueue.insert, payload, now).Scan(&id) },
			func() error { return db.QueryRow(rawQueue.claim, now).Scan(&id) },
			func() error { _, err := db.Exec(rawQueue.finish, []byte("done"), now, id); return err },
		} {
			if err := step(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 50 {
		job(int64(i))
	}
	wal := newWALCounter(t, path)
	f0 := wal.count()
	for i := range jobs {
		job(int64(50 + i))
	}
	return float64(wal.count()-f0) / float64(jobs)
}
