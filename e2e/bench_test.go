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
// order COMPLETED — on two dev servers side by side: the one `make run` starts (queue
// polling sped up) and one with Temporal's stock settings. Orders alternate between the
// two, so that the machine's noise hits both alike; the figures that matter are the
// ratios. Run it with `make bench`.
func BenchmarkOrder(b *testing.B) {
	tuned := env.stacks[0]
	stock := startStockStack(b)
	sku := map[*stack]string{tuned: tuned.newProduct(b, 100, 1_000_000), stock: stock.newProduct(b, 100, 1_000_000)}

	const rounds = 40
	lat := map[string][]time.Duration{}
	for range b.N {
		for i := range rounds {
			for _, s := range []*stack{tuned, stock} {
				if i%2 == 1 { // alternate which goes first
					s = map[*stack]*stack{tuned: stock, stock: tuned}[s]
				}
				d, err := timeOrder(b, s, sku[s])
				if err != nil {
					b.Fatal(err)
				}
				lat[s.name] = append(lat[s.name], d)
			}
		}
	}
	p := func(name string, q float64) time.Duration { return percentile(lat[name], q) }
	b.ReportMetric(ms(p(tuned.name, .5)), "p50-ms")
	b.ReportMetric(ms(p(tuned.name, .95)), "p95-ms")
	b.ReportMetric(ms(p(stock.name, .5)), "stock-p50-ms")
	b.ReportMetric(ms(p(stock.name, .95)), "stock-p95-ms")
	b.ReportMetric(float64(p(stock.name, .5))/float64(p(tuned.name, .5)), "p50-speedup")

	// Throughput: 8 customers ordering at once, for a fixed number of orders, each way.
	tput := map[string]float64{}
	for _, s := range []*stack{tuned, stock, stock, tuned} { // ABBA against drift
		tput[s.name] += throughput(b, s, sku[s], 8, 40) / 2
	}
	b.ReportMetric(tput[tuned.name], "orders/s")
	b.ReportMetric(tput[stock.name], "stock-orders/s")
	b.ReportMetric(tput[tuned.name]/tput[stock.name], "throughput-ratio")
	b.Logf("POST /v1/orders?wait until COMPLETED, %d orders each, alternating:", rounds)
	b.Logf("  make run's dev server:  p50 %v  p95 %v  %.1f orders/s (8 at once)", p(tuned.name, .5), p(tuned.name, .95), tput[tuned.name])
	b.Logf("  stock dev server:       p50 %v  p95 %v  %.1f orders/s (8 at once)", p(stock.name, .5), p(stock.name, .95), tput[stock.name])
}

// startStockStack starts a second dev server with Temporal's default polling, and a
// SQLite stack on it.
func startStockStack(b *testing.B) *stack {
	b.Helper()
	port := freePort()
	srv, err := startProc("temporal-stock", env.temporal, devserver.Args(devserver.Options{Port: port, DefaultPolling: true}), nil)
	if err != nil {
		b.Fatal(err)
	}
	cleanups = append(cleanups, func() { _ = srv.Stop(20 * time.Second) })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	tc, err := temporalx.Dial(context.Background(), config.LocalTemporal(addr), slog.New(slog.DiscardHandler), time.Minute)
	if err != nil {
		b.Fatal(err)
	}
	cleanups = append(cleanups, tc.Close)
	s, err := newStack("stock-sqlite", addr, nil)
	if err != nil {
		b.Fatal(err)
	}
	s.tc = tc
	env.stacks = append(env.stacks, s) // its orders are checked with the others at the end
	return s
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
