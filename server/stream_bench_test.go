package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
	"github.com/ffsqlite/ffsqlite/internal/testdb"
	"github.com/ffsqlite/ffsqlite/server"
)

// benchPoster posts JSON to a live server over one keep-alive client.
type benchPoster struct {
	base string
	c    *http.Client
}

func (p benchPoster) post(b *testing.B, path string, body []byte) (int, []byte) {
	resp, err := p.c.Post(p.base+path, "application/json", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	out, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		b.Fatal(err)
	}
	return resp.StatusCode, out
}

// BenchmarkStreamAppend appends b.N frames through POST /v1/worker/frames
// and, in turns of benchChunk on the same server and database file,
// creates b.N executions through POST /v1/executions (the baseline); it
// reports both rates and their ratio (target ≥ 1: an append is a smaller
// write than a create). Each turn of appends goes to a freshly claimed
// execution, so retention never trims:
//
//	go test -run '^$' -bench StreamAppend -benchtime 4000x -count 3 ./server/
func BenchmarkStreamAppend(b *testing.B) {
	be := testdb.Open(b)
	srv, err := server.New(be, server.Config{})
	if err != nil {
		b.Fatal(err)
	}
	base, _ := liveServer(b, srv)
	p := benchPoster{base: base, c: keepAliveClient(1)}
	claimBody, _ := json.Marshal(claimArgs(map[string]any{"lane_id": "frames"}))
	var appendTook, createTook time.Duration
	b.ResetTimer()
	for lo := 0; lo < b.N; lo += benchChunk {
		n := min(benchChunk, b.N-lo)
		// The turn's execution to append to (setup, not timed).
		id := backend.NewExecutionID(0)
		body, _ := json.Marshal(createArgs(id, map[string]any{"lane_id": "frames"}))
		if st, out := p.post(b, "/v1/executions", body); st != http.StatusCreated {
			b.Fatalf("create: %d %s", st, out)
		}
		st, out := p.post(b, "/v1/worker/claim", claimBody)
		if st != http.StatusOK {
			b.Fatalf("claim: %d %s", st, out)
		}
		var l struct {
			Handle string `json:"handle"`
		}
		json.Unmarshal(out, &l)
		frame, _ := json.Marshal(map[string]any{"handle": l.Handle, "frame_type": "stdout",
			"payload": "step finished: 42 items processed in 12 ms"})

		start := time.Now()
		for range n {
			if st, out := p.post(b, "/v1/worker/frames", frame); st != http.StatusOK {
				b.Fatalf("append: %d %s", st, out)
			}
		}
		appendTook += time.Since(start)

		bodies := make([][]byte, n)
		for i := range bodies {
			bodies[i], _ = json.Marshal(createArgs(backend.NewExecutionID(0), nil))
		}
		start = time.Now()
		for _, body := range bodies {
			if st, out := p.post(b, "/v1/executions", body); st != http.StatusCreated {
				b.Fatalf("create: %d %s", st, out)
			}
		}
		createTook += time.Since(start)
	}
	b.StopTimer()
	if got := sqlCount(b, be, `SELECT count(*) FROM ff_stream_frame`); got != int64(b.N) {
		b.Fatalf("%d frames stored, want %d", got, b.N)
	}
	appends, creates := float64(b.N)/appendTook.Seconds(), float64(b.N)/createTook.Seconds()
	b.ReportMetric(appends, "appends/s")
	b.ReportMetric(creates, "creates/s")
	b.ReportMetric(appends/creates, "append/create")
}

// BenchmarkTailWake measures how long a tail blocked on route 16 takes to
// answer after a frame is appended in the same process: each iteration
// starts a tail (block_ms=30000) after the last frame, waits until the
// server reports it waiting, appends one frame and times from the append
// call to the tail's answer. It reports the median and the 95th
// percentile in ms (target: median < 10 ms; the poll period is set to an
// hour, so only the wake-up can answer in time):
//
//	go test -run '^$' -bench TailWake -benchtime 500x -count 3 ./server/
func BenchmarkTailWake(b *testing.B) {
	clk := testdb.NewClock(epoch)
	be := testdb.Open(b, testdb.WithClock(clk.Now))
	waiting := make(chan struct{}, 1)
	srv, err := server.New(be, server.Config{ClaimPoll: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	server.SetStreamWaitHook(srv, func() { waiting <- struct{}{} })
	base, _ := liveServer(b, srv)
	c := keepAliveClient(2)
	ctx := context.Background()
	id := backend.NewExecutionID(0)
	if _, err := be.CreateExecution(ctx, backend.CreateExecutionArgs{ExecutionID: id, Namespace: "ns", LaneID: "default",
		ExecutionKind: "task", InputPayload: []byte("{}"), CreatorIdentity: "bench"}); err != nil {
		b.Fatal(err)
	}
	l, err := be.Claim(ctx, backend.ClaimArgs{WorkerID: "w", WorkerInstanceID: "w-1", LaneID: "default", LeaseTTLMS: 3_600_000})
	if err != nil || l == nil {
		b.Fatalf("claim: %v %v", l, err)
	}
	url := fmt.Sprintf("%s%s/attempts/0/stream/tail?block_ms=30000&after=", base, ep(id))
	after := "0-0"
	lat := make([]time.Duration, 0, b.N)
	type answer struct {
		status int
		body   []byte
		at     time.Time
	}
	b.ResetTimer()
	for range b.N {
		got := make(chan answer, 1)
		go func() {
			resp, err := c.Get(url + after)
			if err != nil {
				got <- answer{}
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			got <- answer{resp.StatusCode, body, time.Now()}
		}()
		<-waiting
		clk.Advance(time.Millisecond)
		start := time.Now()
		r, err := be.AppendFrame(ctx, l.Handle, backend.AppendFrameArgs{FrameType: "stdout", Payload: []byte("tick")})
		if err != nil {
			b.Fatal(err)
		}
		a := <-got
		if a.status != http.StatusOK || !bytes.Contains(a.body, []byte(r.StreamID)) {
			b.Fatalf("tail: %d %s", a.status, a.body)
		}
		lat = append(lat, a.at.Sub(start))
		after = r.StreamID
	}
	b.StopTimer()
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lat[len(lat)/2]), "median_wake_ms")
	b.ReportMetric(ms(lat[len(lat)*95/100]), "p95_wake_ms")
}
