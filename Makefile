# ffsqlite developer targets. `make help` lists them.
.DEFAULT_GOAL := help
PKGS := ./...

help: ## list targets
	@grep -E '^[a-z/-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

build: ## build the ffsqlite binary (pure Go, no cgo)
	CGO_ENABLED=0 go build -o bin/ffsqlite ./cmd/ffsqlite

test: ## run the test suite (what CI runs)
	go test $(PKGS)

race: ## run the tests under the race detector
	go test -race $(PKGS)

lint: ## gofmt, go vet and the migration parity lint
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || (gofmt -l $$(git ls-files '*.go'); exit 1)
	go vet $(PKGS)
	scripts/lint-migrations.sh

bench: ## run the benchmarks (see README "Speed")
	go test -run '^$$' -bench . -benchtime 2000x $(PKGS)

.PHONY: help build test race lint bench
