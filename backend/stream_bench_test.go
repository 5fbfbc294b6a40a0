package backend_test

import (
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
)

// BenchmarkStreamAppendGoAPI appends b.N frames through the Go API and,
// in turns of 200 on the same database file, creates b.N executions (the
// baseline), reporting both rates and their ratio:
//
//	go test -run '^$' -bench StreamAppendGoAPI -benchtime 4000x -count 3 ./backend/
func BenchmarkStreamAppendGoAPI(b *testing.B) {
	be := testdb.Open(b)
	var appendTook, createTook time.Duration
	frame := backend.AppendFrameArgs{FrameType: "stdout", Payload: []byte("step finished: 42 items processed in 12 ms")}
	b.ResetTimer()
	for lo := 0; lo < b.N; lo += 200 {
		n := min(200, b.N-lo)
		engCreate(b, be, engLane("frames"))
		l := engClaim(b, be, func(c *backend.ClaimArgs) { c.LaneID = "frames" })
		start := time.Now()
		for range n {
			if _, err := be.AppendFrame(engCtx, l.Handle, frame); err != nil {
				b.Fatal(err)
			}
		}
		appendTook += time.Since(start)
		start = time.Now()
		for range n {
			engCreate(b, be)
		}
		createTook += time.Since(start)
	}
	b.StopTimer()
	appends, creates := float64(b.N)/appendTook.Seconds(), float64(b.N)/createTook.Seconds()
	b.ReportMetric(appends, "appends/s")
	b.ReportMetric(creates, "creates/s")
	b.ReportMetric(appends/creates, "append/create")
}
