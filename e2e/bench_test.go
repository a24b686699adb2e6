package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/devserver"
	"github.com/ordersaga/ordersaga/internal/temporalx"
	"github.com/ordersaga/ordersaga/saga"
)

// BenchmarkOrder measures what a customer waits for — POST /v1/orders?wait= until the
// order COMPLETED — on three dev servers side by side: the one `make run` starts (the
// settings of internal/devserver), the same without eager activities, and one with
// Temporal's stock settings. Orders rotate among the three, so that the machine's noise
// hits all alike; the figures that matter are the ratios. Around its throughput passes
// it reads each dev server's CPU time. Run it with `make bench`.
func BenchmarkOrder(b *testing.B) {
	type server struct {
		name, label string
		s           *stack
		pid         int
		sku         string
		lat         []time.Duration
		tput, cpuMs float64 // orders/s with 8 clients, and the server's CPU ms per order
	}
	servers := []*server{{name: "tuned", label: "make run's dev server", s: env.stacks[0], pid: env.temporalProc.Pid()}}
	for _, o := range []struct {
		name, label string
		opts        devserver.Options
	}{
		{"lazy", "without eager activities", devserver.Options{NoEagerActivities: true}},
		{"stock", "stock dev server", devserver.Options{DefaultPolling: true}},
	} {
		s, pid := startDevServerStack(b, o.name, o.opts)
		servers = append(servers, &server{name: o.name, label: o.label, s: s, pid: pid})
	}
	for _, srv := range servers {
		srv.sku = srv.s.newProduct(b, 100, 1_000_000)
	}

	const rounds = 40
	for range b.N {
		for i := range rounds {
			for j := range servers { // a different one first in each round
				srv := servers[(i+j)%len(servers)]
				d, err := timeOrder(b, srv.s, srv.sku)
				if err != nil {
					b.Fatal(err)
				}
				srv.lat = append(srv.lat, d)
			}
		}
	}
	// Throughput: 8 customers ordering at once, 40 orders a pass, two passes each, in the
	// order A B C C B A against drift.
	const passOrders = 40
	abccba := append(slices.Clone(servers), servers...)
	slices.Reverse(abccba[len(servers):])
	for _, srv := range abccba {
		before := cpuSeconds(b, map[string]int{"temporal": srv.pid})
		srv.tput += throughput(b, srv.s, srv.sku, 8, passOrders) / 2
		srv.cpuMs += cpuMsPerOrder(before, cpuSeconds(b, map[string]int{"temporal": srv.pid}), passOrders)["temporal"] / 2
	}

	tuned := servers[0]
	p := func(srv *server, q float64) time.Duration { return percentile(srv.lat, q) }
	b.ReportMetric(ms(p(tuned, .5)), "p50-ms")
	b.ReportMetric(ms(p(tuned, .95)), "p95-ms")
	b.ReportMetric(tuned.tput, "orders/s")
	b.ReportMetric(tuned.cpuMs, "server-cpu-ms/order")
	for _, srv := range servers[1:] {
		b.ReportMetric(ms(p(srv, .5)), srv.name+"-p50-ms")
		b.ReportMetric(float64(p(srv, .5))/float64(p(tuned, .5)), srv.name+"/tuned-p50")
		b.ReportMetric(srv.tput/tuned.tput, srv.name+"/tuned-orders/s")
		b.ReportMetric(srv.cpuMs/tuned.cpuMs, srv.name+"/tuned-server-cpu")
	}
	b.Logf("POST /v1/orders?wait until COMPLETED, %d orders each, in turn; then %d orders at a time from 8 clients, two passes each:", rounds, passOrders)
	b.Logf("  %-26s %9s %9s %9s %22s", "", "p50", "p95", "orders/s", "server CPU ms/order")
	for _, srv := range servers {
		b.Logf("  %-26s %9v %9v %9.1f %22.1f", srv.label, p(srv, .5).Round(100*time.Microsecond),
			p(srv, .95).Round(100*time.Microsecond), srv.tput, srv.cpuMs)
	}
}

// startDevServerStack starts a second dev server with opts, and a SQLite stack named
// name-sqlite on it; it returns the stack and the server's process ID.
func startDevServerStack(b *testing.B, name string, opts devserver.Options) (*stack, int) {
	b.Helper()
	opts.Port = freePort()
	srv, err := startProc("temporal-"+name, env.temporal, devserver.Args(opts), nil)
	if err != nil {
		b.Fatal(err)
	}
	cleanups = append(cleanups, func() { _ = srv.Stop(20 * time.Second) })
	addr := "127.0.0.1:" + strconv.Itoa(opts.Port)
	tc, err := temporalx.Dial(context.Background(), config.LocalTemporal(addr), slog.New(slog.DiscardHandler), time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	cleanups = append(cleanups, tc.Close)
	s, err := newStack(name+"-sqlite", addr, nil)
	if err != nil {
		b.Fatal(err)
	}
	s.tc = tc
	env.stacks = append(env.stacks, s) // its orders are checked with the others at the end
	return s, srv.Pid()
}

// timeOrder places one order and returns how long the customer waited for COMPLETED.
func timeOrder(b *testing.B, s *stack, sku string) (time.Duration, error) {
	start := time.Now()
	r := s.call(b, http.MethodPost, "/v1/orders?wait=20s", orderRequest("cust-rich", "pm_card_visa", "US", sku+":1"))
	d := time.Since(start)
	var v struct{ Status saga.OrderStatus }
	if r.status != http.StatusAccepted || json.Unmarshal(r.body, &v) != nil || v.Status != saga.StatusCompleted {
		return d, fmt.Errorf("order on %s: %d %s", s.name, r.status, r.body)
	}
	return d, nil
}

// throughput places total orders from n concurrent clients and returns orders per second.
func throughput(b *testing.B, s *stack, sku string, n, total int) float64 {
	var wg sync.WaitGroup
	jobs := make(chan struct{}, total)
	for range total {
		jobs <- struct{}{}
	}
	close(jobs)
	start := time.Now()
	for range n {
		wg.Go(func() {
			for range jobs {
				if _, err := timeOrder(b, s, sku); err != nil {
					b.Error(err)
				}
			}
		})
	}
	wg.Wait()
	return float64(total) / time.Since(start).Seconds()
}

func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
