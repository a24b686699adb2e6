# ordersaga — an order saga on Temporal. `make help` lists the targets.

TEMPORAL_CLI_VERSION := v1.5.1
STATICCHECK_VERSION  := v0.8.2
WORKFLOWCHECK_VERSION := v0.6.0
# The Temporal cluster of `make run-cluster`: the server and its schema tool, and the Web UI.
TEMPORAL_SERVER_VERSION := v1.32.1
TEMPORAL_UI_VERSION     := v2.55.0

BIN := $(CURDIR)/bin
GO  ?= go
# Processes built into bin/ for `make run` and the end-to-end tests.
CMDS := api services worker starter devstack clusterstack loadgen chaos

.DEFAULT_GOAL := help

.PHONY: help
help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: build $(BIN)/temporal ## start everything: Temporal dev server + Web UI, services, worker, API (Ctrl-C stops all)
	@$(BIN)/devstack

.PHONY: run-cluster
run-cluster: build cluster-tools ## the production topology as processes: Temporal server + Web UI on PostgreSQL, one database per service, two workers, two APIs
	@$(BIN)/clusterstack

.PHONY: build
build: ## build the processes into bin/
	@$(GO) build -o $(BIN)/ $(addprefix ./cmd/,$(CMDS))

.PHONY: test
test: build $(BIN)/temporal ## run every test (set TEST_DATABASE_URL to include PostgreSQL)
	$(GO) test -count=1 -timeout 30m ./...

.PHONY: lint
lint: $(BIN)/staticcheck $(BIN)/workflowcheck ## go vet, staticcheck, workflowcheck, gofmt
	$(GO) vet ./...
	$(BIN)/staticcheck ./...
	$(BIN)/workflowcheck ./...
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }

FUZZTIME ?= 10s

# Each fuzz target runs on its own (go test -fuzz takes one target at a time). A failing
# target prints its input, kept under testdata/fuzz/; a bare "context deadline exceeded"
# with no failing input is Go's fuzz coordinator racing its own -fuzztime deadline
# (golang/go#75804, fixed in Go 1.27), not a finding, and is reported but not failed.
.PHONY: fuzz
fuzz: ## run every fuzz target for FUZZTIME (10s) each, one after another; FUZZTIME=5m
	@fail=0; out=$$(mktemp); \
	for dir in $$(grep -rl --include='*_test.go' --exclude-dir=.git --exclude-dir=.data --exclude-dir=bin '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
		if ! targets=$$($(GO) test -list '^Fuzz' $$dir 2>&1); then echo "$$targets"; fail=1; continue; fi; \
		for fn in $$(echo "$$targets" | grep '^Fuzz'); do \
			echo "== $$fn ($$dir, $(FUZZTIME))"; \
			if $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) $$dir >$$out 2>&1; then tail -n 3 $$out; \
			elif grep -q 'context deadline exceeded' $$out && ! grep -q 'Failing input written' $$out; then \
				tail -n 6 $$out; echo "(not a finding: golang/go#75804, the -fuzztime deadline race; no failing input)"; \
			else cat $$out; fail=1; fi; \
		done; \
	done; rm -f $$out; exit $$fail

.PHONY: bench
bench: build $(BIN)/temporal ## the saga beside a no-op ceiling, the tuned vs the stock dev server, what an order costs; plot in docs/bench
	@mkdir -p .data
	$(GO) test -run '^$$' -bench ReserveWarmAndIdle -benchtime 300x ./services/inventory/
	BENCH_OUT=$(CURDIR)/.data/bench.json $(GO) test -v -run '^$$' -bench . -benchtime 1x -count 1 -timeout 150m ./e2e/
	$(GO) run ./cmd/benchplot -in .data/bench.json -out docs/bench/latency.png

# services-ab builds OLD's services from a git worktree under .data/ab and runs
# cmd/servicesab with them as A and this tree's as B (on PostgreSQL when
# TEST_DATABASE_URL is set).
OLD ?= HEAD
.PHONY: services-ab
services-ab: build ## the saga's five service calls, OLD's services (HEAD) beside this tree's, taking turns; OLD=<revision>
	@rm -rf .data/ab && git worktree prune && git worktree add -q --detach .data/ab/src $(OLD)
	@cd .data/ab/src && $(GO) build -o ../services ./cmd/services; rc=$$?; cd $(CURDIR) && git worktree remove --force .data/ab/src && exit $$rc
	$(GO) run ./cmd/servicesab -a .data/ab/services -b $(BIN)/services $(if $(TEST_DATABASE_URL),-database-url '$(TEST_DATABASE_URL)') $(ARGS)

.PHONY: load
load: build ## place mixed orders on the running stack (make run) and check the books; ARGS="-orders 500"
	$(BIN)/loadgen $(ARGS)

.PHONY: chaos
chaos: build $(BIN)/temporal ## orders under load with killed workers, outages, PostgreSQL and Temporal restarts; ORDERS=2000
	$(BIN)/chaos -orders $(or $(ORDERS),200) $(ARGS)

PROMETHEUS_PORT ?= 9099

.PHONY: observe
observe: ## Prometheus scraping the running `make run` stack, with the alert rules (Debian's prometheus package)
	@command -v prometheus >/dev/null || { echo "prometheus is not installed: apt-get install prometheus"; exit 1; }
	@mkdir -p .data/prometheus
	@echo "Prometheus: http://localhost:$(PROMETHEUS_PORT)  (graphs /graph, alerts /classic/alerts, targets /classic/targets). Ctrl-C stops it."
	@echo "Traces: start make run with OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 and a trace viewer there (README: Watching it run)."
	@prometheus --config.file=deploy/observability/prometheus.yml --storage.tsdb.path=.data/prometheus \
		--web.listen-address=127.0.0.1:$(PROMETHEUS_PORT) --log.level=warn

.PHONY: tools
tools: $(BIN)/temporal $(BIN)/staticcheck $(BIN)/workflowcheck ## install the pinned temporal CLI and linters into bin/

$(BIN)/temporal:
	GOBIN=$(BIN) $(GO) install github.com/temporalio/cli/cmd/temporal@$(TEMPORAL_CLI_VERSION)

$(BIN)/staticcheck:
	GOBIN=$(BIN) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(BIN)/workflowcheck:
	GOBIN=$(BIN) $(GO) install go.temporal.io/sdk/contrib/tools/workflowcheck@$(WORKFLOWCHECK_VERSION)

.PHONY: cluster-tools
cluster-tools: $(BIN)/temporal-server $(BIN)/temporal-sql-tool $(BIN)/temporal-ui-server ## build the pinned Temporal server, its schema tool and the Web UI server into bin/

# `go install` names a binary after its package's directory (server, sql): each is
# installed into a directory of its own and renamed. A cold build of the server takes
# 10-15 minutes on two cores and about 3 GB of memory; later builds reuse Go's cache.
$(BIN)/temporal-server:
	@echo "building the Temporal server $(TEMPORAL_SERVER_VERSION) (cold: 10-15 minutes on two cores; then cached)"
	GOBIN=$(BIN)/.install/server $(GO) install go.temporal.io/server/cmd/server@$(TEMPORAL_SERVER_VERSION)
	mv $(BIN)/.install/server/server $@

$(BIN)/temporal-sql-tool:
	GOBIN=$(BIN)/.install/sql $(GO) install go.temporal.io/server/cmd/tools/sql@$(TEMPORAL_SERVER_VERSION)
	mv $(BIN)/.install/sql/sql $@

$(BIN)/temporal-ui-server:
	GOBIN=$(BIN)/.install/ui $(GO) install github.com/temporalio/ui-server/v2/cmd/server@$(TEMPORAL_UI_VERSION)
	mv $(BIN)/.install/ui/server $@

.PHONY: clean
clean: ## remove bin/ and .data/ (the dev server's state and the SQLite files)
	rm -rf $(BIN) .data
