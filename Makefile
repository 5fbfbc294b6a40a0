# ffsqlite developer targets. `make help` lists them. `lint` and `race`
# run what .ci/run runs (keep the version and package list in step).
.DEFAULT_GOAL := help
PKGS := ./...
# The packages whose code runs goroutines (.ci/run's RACE_PKGS).
RACE_PKGS := ./backend/... ./server/... ./scanners/... ./inspect/... ./dbops/... ./retry/...
# staticcheck release 2026.2.2, by its module version.
STATICCHECK_VERSION := v0.8.2

help: ## list targets
	@grep -E '^[a-z/-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build the ffsqlite binary (pure Go, no cgo)
	CGO_ENABLED=0 go build -o bin/ffsqlite ./cmd/ffsqlite

test: ## run the test suite (what CI runs)
	go test $(PKGS)

race: ## run the packages with concurrency under the race detector (needs a C compiler)
	go test -race -short $(RACE_PKGS)

lint: ## gofmt, go vet, staticcheck and the migration parity lint
	@test -z "$$(gofmt -l .)" || (gofmt -l .; exit 1)
	go vet $(PKGS)
	go run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)
	scripts/lint-migrations.sh

bench: ## run the benchmarks (see README "Speed")
	go test -run '^$$' -bench . -benchtime 2000x $(PKGS)

ci: ## run .ci/run (everything CI runs)
	.ci/run

.PHONY: help build test race lint bench ci
