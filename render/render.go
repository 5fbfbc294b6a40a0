// Package render prints command output: tables through tablewriter for
// people, indented JSON for scripts, and colour only when asked.
package render

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/fatih/color"
	"github.com/olekukonko/tablewriter"
	"github.com/olekukonko/tablewriter/tw"
)

// JSON writes v as indented JSON followed by a newline.
func JSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Table writes rows under headers as a bordered table. Headers are printed
// as given (no automatic upper-casing) so golden files stay readable.
func Table(w io.Writer, headers []string, rows [][]string) error {
	t := tablewriter.NewTable(w,
		tablewriter.WithHeaderAutoFormat(tw.Off),
		tablewriter.WithHeaderAlignment(tw.AlignLeft),
		tablewriter.WithRowAlignment(tw.AlignLeft),
	)
	hs := make([]any, len(headers))
	for i, h := range headers {
		hs[i] = h
	}
	t.Header(hs...)
	for _, r := range rows {
		cells := make([]any, len(r))
		for i, c := range r {
			cells[i] = c
		}
		if err := t.Append(cells...); err != nil {
			return err
		}
	}
	return t.Render()
}

// Painter colours words when Enabled; with Enabled false every method
// returns its input unchanged.
type Painter struct{ Enabled bool }

var stateColors = map[string]color.Attribute{
	"completed": color.FgGreen, "applied": color.FgGreen, "ok": color.FgGreen, "alive": color.FgGreen,
	"failed": color.FgRed, "error": color.FgRed, "expired": color.FgRed, "breach": color.FgRed,
	"cancelled": color.FgMagenta, "skipped": color.FgMagenta,
	"active": color.FgCyan, "waiting": color.FgBlue, "delayed": color.FgYellow, "pending": color.FgYellow,
	"suspended": color.FgYellow, "rate_limited": color.FgYellow, "waiting_children": color.FgBlue,
	// Flow edge states.
	"satisfied": color.FgGreen, "impossible": color.FgRed, "unsatisfied": color.FgBlue,
}

// State colours a state word by meaning (completed green, failed red, …).
func (p Painter) State(s string) string {
	a, ok := stateColors[s]
	if !p.Enabled || !ok {
		return s
	}
	c := color.New(a)
	c.EnableColor()
	return c.Sprint(s)
}

// Bold emphasises s.
func (p Painter) Bold(s string) string {
	if !p.Enabled {
		return s
	}
	c := color.New(color.Bold)
	c.EnableColor()
	return c.Sprint(s)
}

// Time shows a Unix-millisecond timestamp as local time plus its age
// relative to now ("2026-11-25 20:41:03 (12s ago)"); 0 shows "-".
func Time(ms, nowMS int64) string {
	if ms == 0 {
		return "-"
	}
	t := time.UnixMilli(ms).Local()
	return fmt.Sprintf("%s (%s)", t.Format("2006-01-02 15:04:05"), Age(ms, nowMS))
}

// Bytes renders a size for people in binary units: "512 B", "1.5 KiB",
// "3.0 MiB", "1.2 GiB".
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// Age renders the distance between ms and now as "12s ago" or "in 3m".
func Age(ms, nowMS int64) string {
	d := time.Duration(nowMS-ms) * time.Millisecond
	suffix := " ago"
	if d < 0 {
		d, suffix = -d, ""
		return "in " + short(d)
	}
	return short(d) + suffix
}

func short(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
