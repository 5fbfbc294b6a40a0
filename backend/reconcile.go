package backend

// SweepReport counts what one reconciler batch did: rows changed and rows
// that failed (each failure is logged and the batch goes on).
type SweepReport struct {
	Processed int `json:"processed"`
	Errors    int `json:"errors"`
}

// Add accumulates another report into r.
func (r *SweepReport) Add(o SweepReport) {
	r.Processed += o.Processed
	r.Errors += o.Errors
}
