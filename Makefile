# meshdojo developer tasks. `make test` is what CI runs (.ci/run); it builds
# everything the tests need first. It needs root and iproute2's `ip`: the
# proxy tests run their fake pods in a network namespace (.ci/run installs
# iproute2 when it is missing).

export PATH := $(PATH):/usr/local/go/bin
GO ?= go
# Two test binaries at a time: each integration package runs its own etcd
# and kube-apiserver, and CI machines have two cores. The lessons package
# walks every lesson against the simulated lab in real time: about 10
# minutes on a quiet machine, nearer 14 under heavy load; the timeout is a
# net for a hang, not a budget.
TESTFLAGS ?= -count=1 -p 2 -timeout 20m
BENCHTIME ?= 200ms
ARGS ?=

.DEFAULT_GOAL := help

.PHONY: help build run test vet fmt-check testbins bench bench-room clean

help: ## list the targets
	@echo "make <target>:"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | awk -F'\t' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/meshdojo
	$(GO) build -o bin/meshdojo .

run: ## run the tutorial (make run ARGS="--lesson 6"); works offline
	$(GO) run . $(ARGS)

testbins: ## build kube-apiserver and etcd for the integration tests (once per machine)
	@.ci/testbins.sh >/dev/null

fmt-check: ## fail if any Go file is not gofmt-formatted
	@out=$$(find . -name '*.go' -not -path '*/testdata/*' -not -path './.*' -not -path './bin/*' | xargs gofmt -l); \
	if [ -n "$$out" ]; then echo "not gofmt-formatted (run gofmt -w):"; echo "$$out"; exit 1; fi

vet: ## go vet every package
	$(GO) vet ./...

test: testbins fmt-check vet ## every test, with a real API server (what CI runs)
	MESHDOJO_TESTBINS=$$(.ci/testbins.sh --dir) $(GO) test $(TESTFLAGS) ./...

bench: testbins ## benchmarks only (BENCHTIME=200ms)
	MESHDOJO_TESTBINS=$$(.ci/testbins.sh --dir) $(GO) test -run='^$$' -bench=. -benchmem -benchtime=$(BENCHTIME) ./...

bench-room: testbins ## the room's benchmark: 30 participants over 6 API servers (MESHDOJO_ROOM_SERVERS, _PARTICIPANTS, _FLIPS)
	MESHDOJO_TESTBINS=$$(.ci/testbins.sh --dir) $(GO) test -run='^$$' -bench=BenchmarkRoom -benchtime=1x -timeout 30m ./internal/room

clean: ## remove build output
	rm -rf bin
