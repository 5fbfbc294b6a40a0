//go:build race

package backend_test

// raceEnabled is true when the tests run under the race detector, which
// slows SQLite (transpiled C) down about tenfold: the property tests run
// fewer operations then.
const raceEnabled = true
