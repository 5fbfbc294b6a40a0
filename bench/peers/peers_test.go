package peers

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ffsqlite/ffsqlite/backend"
)

// The workloads, each with 1 and 16 workers, the same for every system:
//
//   - drain: enqueue -peers.jobs jobs (one transaction each, from the
//     workers' goroutines), then drain them with the workers (take and
//     complete until none is left). Reported: jobs / (enqueue + drain
//     time), and the drain alone.
//   - lifecycle: -peers.lifecycle-jobs jobs, each created, taken and
//     completed by one worker before its next (for River: inserted, then
//     waited for until River reports it completed; River writes
//     completions in batches every 50 ms, so it runs
//     -peers.river-lifecycle-jobs jobs instead, 100 by default, and its
//     rate is per second like the others').
//
// Every run opens its system afresh on a new database file. The systems
// take turns within each round (the order rotating from round to round),
// so load swings hit them alike, and each ratio is to the plain queue's
// figure of the same round.

var (
	jobs           = flag.Int("peers.jobs", 20_000, "jobs of the drain workload")
	lifecycleJobs  = flag.Int("peers.lifecycle-jobs", 5_000, "jobs of the lifecycle workload")
	riverLifecycle = flag.Int("peers.river-lifecycle-jobs", 100, "jobs of River's lifecycle workload (River "+
		"writes completions in batches every 50 ms, so a worker waiting for each runs at a few jobs/s)")
	rounds = flag.Int("peers.rounds", 3, "rounds: every system runs every workload once per round")
	only   = flag.String("peers.only", "", "comma list of systems to run (plain always runs)")
)

var systems = []string{"plain", "ffsqlite", "goqite", "river"}

// result is one run: jobs/s of the workload (and of its drain phase).
type result struct {
	rate, drainRate float64
}

// key names one table row.
type key struct {
	workload string
	workers  int
	system   string
}

// BenchmarkPeers runs every workload for every system and prints one
// table. Use -benchtime 1x: the workloads have fixed sizes.
func BenchmarkPeers(b *testing.B) {
	os.Setenv(backend.DevModeEnv, "1")
	run := systems
	if *only != "" {
		run = []string{"plain"}
		for _, s := range strings.Split(*only, ",") {
			if s = strings.TrimSpace(s); s != "plain" && slices.Contains(systems, s) {
				run = append(run, s)
			}
		}
	}
	results := map[key][]result{}
	ratios := map[key][]float64{}
	for _, workload := range []string{"drain", "lifecycle"} {
		for _, workers := range []int{1, 16} {
			for round := range *rounds {
				var plain result
				for k := range run {
					// plain first in each round, the others rotating.
					sys := run[0]
					if k > 0 {
						sys = run[1+(k-1+round)%(len(run)-1)]
					}
					r := runOnce(b, sys, workload, workers)
					if sys == "plain" {
						plain = r
					}
					id := key{workload, workers, sys}
					results[id] = append(results[id], r)
					ratios[id] = append(ratios[id], r.rate/plain.rate)
					b.Logf("%s workers=%d %s round %d: %.0f jobs/s (%.2f× plain)", workload, workers, sys, round+1, r.rate, r.rate/plain.rate)
				}
			}
		}
	}
	printTable(results, ratios, run)
}

// runOnce opens sys afresh and runs the workload once.
func runOnce(b *testing.B, sys, workload string, workers int) result {
	b.Helper()
	dir := b.TempDir()
	ctx := context.Background()
	if sys == "river" {
		s := openRiver(b, dir, workers)
		defer s.close()
		if workload == "drain" {
			return riverDrain(b, ctx, s, *jobs, workers)
		}
		if err := s.start(ctx); err != nil {
			b.Fatal(err)
		}
		d := parallel(*riverLifecycle, workers, func(_, i int) error { return s.lifecycle(ctx, i) })
		return result{rate: float64(*riverLifecycle) / d.Seconds()}
	}
	var s system
	switch sys {
	case "plain":
		s = openPlain(b, dir)
	case "ffsqlite":
		s = openFFSQLite(b, dir)
	case "goqite":
		s = openGoqite(b, dir)
	}
	defer s.close()
	if workload == "drain" {
		enq := parallel(*jobs, workers, func(_, i int) error { return s.enqueue(ctx, i) })
		var left atomic.Int64
		left.Store(int64(*jobs))
		drain := parallel(*jobs, workers, func(w, _ int) error {
			found, err := s.work(ctx, w)
			if err == nil && !found {
				err = fmt.Errorf("%s: no job waiting with %d left", sys, left.Load())
			}
			left.Add(-1)
			return err
		})
		return result{rate: float64(*jobs) / (enq + drain).Seconds(), drainRate: float64(*jobs) / drain.Seconds()}
	}
	d := parallel(*lifecycleJobs, workers, func(w, i int) error {
		if err := s.enqueue(ctx, i); err != nil {
			return err
		}
		found, err := s.work(ctx, w)
		if err == nil && !found {
			err = fmt.Errorf("%s: the job just enqueued is not there to take", sys)
		}
		return err
	})
	return result{rate: float64(*lifecycleJobs) / d.Seconds()}
}

// riverDrain inserts n jobs before River's workers start, then starts
// them and waits for n completions.
func riverDrain(b *testing.B, ctx context.Context, s *riverSystem, n, workers int) result {
	enq := parallel(n, workers, func(_, i int) error { return s.enqueue(ctx, i) })
	start := time.Now()
	if err := s.start(ctx); err != nil {
		b.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Minute)
	for s.done.Load() < int64(n) {
		if time.Now().After(deadline) {
			b.Fatalf("river completed %d of %d jobs in 10 minutes", s.done.Load(), n)
		}
		time.Sleep(time.Millisecond) // polling a counter, not synchronising a test
	}
	drain := time.Since(start)
	return result{rate: float64(n) / (enq + drain).Seconds(), drainRate: float64(n) / drain.Seconds()}
}

// parallel runs n jobs (job(worker, i)) on workers goroutines and returns
// the wall time; the first error fails the run.
func parallel(n, workers int, job func(worker, i int) error) time.Duration {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	start := time.Now()
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if err := job(w, int(i)); err != nil {
					once.Do(func() { first = err })
					next.Store(int64(n))
					return
				}
			}
		}()
	}
	wg.Wait()
	if first != nil {
		panic(first)
	}
	return time.Since(start)
}

// printTable prints one row per workload, worker count and system: the
// range of jobs/s over the rounds, the drain phase's, and the range of
// ratios to the plain queue.
func printTable(results map[key][]result, ratios map[key][]float64, run []string) {
	span := func(v []float64, format string) string {
		lo, hi := slices.Min(v), slices.Max(v)
		if fmt.Sprintf(format, lo) == fmt.Sprintf(format, hi) {
			return fmt.Sprintf(format, lo)
		}
		return fmt.Sprintf(format+"–"+format, lo, hi)
	}
	host, _ := os.Hostname()
	fmt.Printf("\npeers: %s, %d rounds, %s/%s, %d CPUs, host %s, %s\n", time.Now().UTC().Format("2006-01-02"),
		*rounds, runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), host, runtime.Version())
	fmt.Printf("%-22s %-9s %-17s %-17s %s\n", "workload", "system", "jobs/s", "drain jobs/s", "× plain")
	for _, workload := range []string{"drain", "lifecycle"} {
		for _, workers := range []int{1, 16} {
			name := fmt.Sprintf("%s, %d worker", workload, workers)
			if workers > 1 {
				name += "s"
			}
			if workload == "drain" {
				name = fmt.Sprintf("%s %dk, %d w", workload, *jobs/1000, workers)
			}
			for _, sys := range run {
				id := key{workload, workers, sys}
				var rates, drains []float64
				for _, r := range results[id] {
					rates, drains = append(rates, r.rate), append(drains, r.drainRate)
				}
				drain := "-"
				if workload == "drain" {
					drain = span(drains, "%.0f")
				}
				ratioFormat := "%.2f"
				if slices.Max(ratios[id]) < 0.095 {
					ratioFormat = "%.4f" // River's lifecycle: a few jobs/s
				}
				fmt.Printf("%-22s %-9s %-17s %-17s %s\n", name, sys, span(rates, "%.0f"), drain, span(ratios[id], ratioFormat))
			}
		}
	}
}
