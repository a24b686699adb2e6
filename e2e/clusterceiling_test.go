package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/temporalx"
)

// BenchmarkClusterSagaVsCeiling is BenchmarkSagaVsCeiling's comparison on the cluster
// profile (`make run-cluster`: the Temporal server on PostgreSQL) instead of the dev
// server, on the same shared machine: the ceiling, the dressed ceiling, the saga through
// the Temporal client and through POST /v1/orders?wait=, at 1 and 32 clients, taking
// turns over BENCH_REPS rounds (5). The cluster runs one worker and one API here, so
// that the saga has one worker as the ceiling has.
//
// It tells apart what the saga costs from what the dev server's storage does under CPU
// contention. The dev server keeps its state in SQLite through one connection (server
// 1.29's SQLite store allows one open connection), so all of the server's writes and
// reads queue for it, and a holder that loses its CPU to another process holds up the
// queue; the cluster's server has a pool of PostgreSQL connections. Every order must
// complete, and the cluster's books are checked at the end.
func BenchmarkClusterSagaVsCeiling(b *testing.B) {
	pgURL := needCluster(b)
	c := startClusterOf(b, pgURL, 1, "PAYLOAD_KEYS="+env.keys.stacks)
	b.Cleanup(func() { c.make.interrupt(b, c.pids) })
	t := c.temporal()
	tc, err := temporalx.Dial(context.Background(), t, slog.New(slog.DiscardHandler), time.Minute, openPayloads(env.keys.all()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(tc.Close)
	s := c.stack
	s.tc = tc
	r := &benchRun{s: s, api: httpx.NewHTTPClient(), metrics: fmt.Sprintf("127.0.0.1:%d", c.ports["TEMPORAL_METRICS_PORT"]),
		Machine: machine()}
	queue, ceilingWorker := startCeilingWorker(b, []string{"TEMPORAL_ADDRESS=" + t.Address(),
		"TEMPORAL_NAMESPACE=" + t.Namespace(), "PAYLOAD_KEYS=" + env.keys.stacks, "LOG_LEVEL=warn"})
	r.ceilingQueue = queue
	r.procs = map[string]int{"temporal": c.pids["temporal"], "worker": c.pids["worker-1"], "api": c.pids["api-1"],
		"ceiling-worker": ceilingWorker.Pid(), "clusterstack": parentPid(b, c.pids["temporal"]), "customers": os.Getpid()}
	for _, svc := range config.ServiceNames {
		r.procs[svc] = c.pids[svc]
	}
	r.sku = s.newProduct(b, 100, 1_000_000)
	r.cust = s.newCustomer(b, 1_000_000_000_000)
	r.learnShape(b)

	variants := r.variants()
	levels := []int{1, 32}
	r.rounds(b, variants, levels, max(1, envInt("BENCH_REPS", 5)), func(int) { r.acceptPasses(b) })

	b.Logf("%s", r.Machine)
	b.Logf("the cluster profile: Temporal server 1.32 on PostgreSQL, one worker, one API, one process per service; clusterstack runs NATS")
	r.logPasses(b, variants, levels)
	logServerWork(b, variants, func(name string) []passResult { return r.Results[name][32] })
	acc, _ := r.logAccept(b)
	r.logAPITimes(b)
	ratios := r.targetRatios()
	for _, rt := range []struct{ name, what string }{
		{"sagaClientTputRatio32", "saga/ceiling throughput at 32 clients (client)"},
		{"sagaAPITputRatio32", "saga/ceiling throughput at 32 clients (API)"},
		{"dressedTputRatio32", "ceiling-dressed/ceiling throughput at 32 clients"},
		{"sagaClientP50Ratio1", "saga/ceiling p50 at 1 client (client)"},
		{"sagaAPIP50Ratio1", "saga/ceiling p50 at 1 client (API)"},
	} {
		b.Logf("%-50s %s", rt.what+",", ratios[rt.name].ratioString())
		b.ReportMetric(ratios[rt.name].Median, rt.name)
	}
	logUWSRatios(b, ratios)
	targets := targetsMet(ratios, ", cluster")
	targets["accept p99 <= 25 ms at 32 clients, cluster"] = acc.Median <= 25
	logTargets(b, targets)
	s.checkBooks(b)
}

// parentPid is the process that started process pid.
func parentPid(b *testing.B, pid int) int {
	b.Helper()
	ppid, err := strconv.Atoi(procStat(b, pid)[1])
	if err != nil {
		b.Fatal(err)
	}
	return ppid
}
