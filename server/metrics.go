package server

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ffsqlite/ffsqlite/scanners"
)

// scannerCollector exports the supervisor's counters as ff_scanner_*
// series at scrape time, so the supervisor needs no Prometheus code.
type scannerCollector struct{ sup *scanners.Supervisor }

var (
	scannerCycles = prometheus.NewDesc("ff_scanner_cycle_total",
		"Reconciler ticks run, by scanner and outcome.", []string{"scanner", "outcome"}, nil)
	scannerDuration = prometheus.NewDesc("ff_scanner_cycle_duration_seconds",
		"Duration of the scanner's most recent tick.", []string{"scanner"}, nil)
	scannerProcessed = prometheus.NewDesc("ff_scanner_processed_total",
		"Rows changed by the scanner's ticks.", []string{"scanner"}, nil)
	scannerErrors = prometheus.NewDesc("ff_scanner_errors_total",
		"Failed rows and failed ticks of the scanner.", []string{"scanner"}, nil)
)

func (c scannerCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- scannerCycles
	ch <- scannerDuration
	ch <- scannerProcessed
	ch <- scannerErrors
}

func (c scannerCollector) Collect(ch chan<- prometheus.Metric) {
	for _, st := range c.sup.Stats() {
		ok := st.Ticks - st.Failures
		ch <- prometheus.MustNewConstMetric(scannerCycles, prometheus.CounterValue, float64(ok), st.Reconciler, "ok")
		ch <- prometheus.MustNewConstMetric(scannerCycles, prometheus.CounterValue, float64(st.Failures), st.Reconciler, "error")
		ch <- prometheus.MustNewConstMetric(scannerDuration, prometheus.GaugeValue, st.LastTook.Seconds(), st.Reconciler)
		ch <- prometheus.MustNewConstMetric(scannerProcessed, prometheus.CounterValue, float64(st.Processed), st.Reconciler)
		ch <- prometheus.MustNewConstMetric(scannerErrors, prometheus.CounterValue, float64(st.Errors), st.Reconciler)
	}
}
