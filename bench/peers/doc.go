// Package peers compares ffsqlite's engine with other Go job queues on
// SQLite, on the same settings and workloads: a plain database/sql queue,
// goqite and River with its SQLite driver. It is a module of its own so
// that ffsqlite itself never depends on them, and it does not run in CI.
//
//	cd bench/peers && go test -run '^$' -bench Peers -benchtime 1x -timeout 30m
//
// prints one table (peers_test.go says what each workload does).
package peers
