# ordersaga — an order saga on Temporal. `make help` lists the targets.

TEMPORAL_CLI_VERSION := v1.5.1
STATICCHECK_VERSION  := v0.8.2
WORKFLOWCHECK_VERSION := v0.6.0

BIN := $(CURDIR)/bin
GO  ?= go
# Processes built into bin/ for `make run` and the end-to-end tests.
CMDS := api services worker starter devstack loadgen chaos

.DEFAULT_GOAL := help

.PHONY: help
help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-8s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: run
run: build $(BIN)/temporal ## start everything: Temporal dev server + Web UI, services, worker, API (Ctrl-C stops all)
	@$(BIN)/devstack

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

.PHONY: bench
bench: build $(BIN)/temporal ## measure saga latency and throughput against a real dev server
	$(GO) test -run '^$$' -bench . -benchtime 1x -count 1 ./e2e/

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

.PHONY: clean
clean: ## remove bin/ and .data/ (the dev server's state and the SQLite files)
	rm -rf $(BIN) .data
