package scanners

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MinInterval is the shortest non-zero interval a reconciler accepts.
const MinInterval = time.Millisecond

// Config holds one interval per reconciler, keyed by reconciler name
// (Definition.Name). Zero, or a name absent from the map, disables that
// reconciler.
type Config struct {
	Intervals map[string]time.Duration
}

// DefaultConfig enables every known reconciler at its default interval
// (server-api.md §2.1: budget-reset 15 s, worker-ttl 30 s, …).
func DefaultConfig() Config {
	c := Config{Intervals: map[string]time.Duration{}}
	for _, d := range Definitions() {
		c.Intervals[d.Name] = d.Default
	}
	return c
}

// Interval returns name's interval (0 when disabled or unknown).
func (c Config) Interval(name string) time.Duration { return c.Intervals[name] }

// Set sets name's interval, creating the map if needed.
func (c *Config) Set(name string, d time.Duration) {
	if c.Intervals == nil {
		c.Intervals = map[string]time.Duration{}
	}
	c.Intervals[name] = d
}

// Enabled returns the names of the reconcilers with a non-zero interval,
// in run order.
func (c Config) Enabled() []string {
	var out []string
	for _, n := range Names() {
		if c.Intervals[n] > 0 {
			out = append(out, n)
		}
	}
	return out
}

// Validate reports unknown names and intervals that are negative or
// shorter than MinInterval.
func (c Config) Validate() error {
	var errs []error
	names := make([]string, 0, len(c.Intervals))
	for n := range c.Intervals {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		d := c.Intervals[n]
		if _, ok := Lookup(n); !ok {
			errs = append(errs, &UnknownReconcilerError{Name: n})
			continue
		}
		if d < 0 || (d > 0 && d < MinInterval) {
			errs = append(errs, fmt.Errorf("%s: interval %s must be 0 (disabled) or at least %s", n, d, MinInterval))
		}
	}
	return errors.Join(errs...)
}

// UnknownReconcilerError names a reconciler that does not exist.
type UnknownReconcilerError struct{ Name string }

func (e *UnknownReconcilerError) Error() string {
	return fmt.Sprintf("unknown reconciler %q (known: %s)", e.Name, strings.Join(Names(), ", "))
}

// ErrNoneEnabled is a configuration that runs no reconciler at all.
var ErrNoneEnabled = errors.New("every reconciler is disabled: nothing to run")

// EnvError is a reconciler interval variable whose value is not an
// unsigned integer in range. Its message is upstream's
// "invalid value for VAR: expected u64, got 'V'".
type EnvError struct {
	Var, Value string
	Reason     string
	// Unit is what the variable counts (time.Second, time.Millisecond).
	Unit time.Duration
}

func (e *EnvError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("invalid value for %s: %s, got '%s'", e.Var, e.Reason, e.Value)
	}
	return fmt.Sprintf("invalid value for %s: expected u64, got '%s'", e.Var, e.Value)
}

// LookupEnv is os.LookupEnv's shape; tests inject a map.
type LookupEnv func(string) (string, bool)

// IntervalFromEnv reads d's interval variable. set is false when d has no
// variable or it is unset or empty; a value that is not an unsigned
// integer (or overflows a duration) is an *EnvError.
func (d Definition) IntervalFromEnv(lookup LookupEnv) (iv time.Duration, set bool, err error) {
	if d.Env == "" {
		return 0, false, nil
	}
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(d.Env)
	if !ok || v == "" {
		return 0, false, nil
	}
	n, perr := strconv.ParseUint(v, 10, 64)
	if perr != nil {
		return 0, false, &EnvError{Var: d.Env, Value: v, Unit: d.unit()}
	}
	unit := d.unit()
	if n > uint64(math.MaxInt64/int64(unit)) {
		return 0, false, &EnvError{Var: d.Env, Value: v, Reason: "out of range", Unit: unit}
	}
	return time.Duration(n) * unit, true, nil
}

// unit is EnvUnit, seconds when unset.
func (d Definition) unit() time.Duration {
	if d.EnvUnit <= 0 {
		return time.Second
	}
	return d.EnvUnit
}

// Resolve is the one interval resolution of `scan` and `serve`: each
// reconciler's interval is its flag's (flags holds the flags given, by
// reconciler name), else its environment variable's (lookup nil = the
// process environment), else its default; with only non-empty, the
// reconcilers it does not name are disabled. It returns an *EnvError for
// a bad variable, an *UnknownReconcilerError for a name in only that does
// not exist, the Validate error of a bad interval and ErrNoneEnabled when
// nothing is left to run.
func Resolve(flags map[string]time.Duration, only []string, lookup LookupEnv) (Config, error) {
	cfg := Config{Intervals: map[string]time.Duration{}}
	for _, d := range table {
		iv, ok := flags[d.Name]
		if !ok {
			v, set, err := d.IntervalFromEnv(lookup)
			if err != nil {
				return Config{}, err
			}
			iv = d.Default
			if set {
				iv = v
			}
		}
		cfg.Intervals[d.Name] = iv
	}
	for _, n := range only {
		if _, ok := Lookup(n); !ok {
			return Config{}, &UnknownReconcilerError{Name: n}
		}
	}
	if len(only) > 0 {
		for n := range cfg.Intervals {
			if !slices.Contains(only, n) {
				cfg.Intervals[n] = 0
			}
		}
	}
	for n := range flags {
		if _, ok := Lookup(n); !ok {
			return Config{}, &UnknownReconcilerError{Name: n}
		}
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	if len(cfg.Enabled()) == 0 {
		return Config{}, ErrNoneEnabled
	}
	return cfg, nil
}
