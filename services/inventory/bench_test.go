package inventory_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/servicetest"
	"github.com/ordersaga/ordersaga/services/inventory"
)

// idleGap is how long the service sits idle before an "idle" call: about the time
// between two of one customer's calls to a service while the rest of an order runs.
const idleGap = 10 * time.Millisecond

// BenchmarkReserveWarmAndIdle times the saga's reservation call, over real HTTP into a
// real SQLite file, in two ways side by side: a call right after the last one (warm),
// and a call after the service sat idle for idleGap (idle), as each of an order's calls
// finds its service when orders come one at a time. It reports both and their ratio:
// at one client a call pays for waking the process (threads parked, caches cold, slower
// syscalls), which the no-op activities of make bench's ceiling, run in the worker that
// is already awake, never pay.
func BenchmarkReserveWarmAndIdle(b *testing.B) {
	db := servicetest.Open(b, database.Config{SQLitePath: filepath.Join(b.TempDir(), "bench.db")})
	c := inventory.NewClient(servicetest.Serve(b, db, inventory.Operations, inventory.New), nil)
	ctx := context.Background()
	stock, price := 1_000_000, int64(100)
	if _, err := c.UpsertProduct(ctx, "SKU-BENCH", inventory.ProductUpdate{Name: "bench", PriceCents: &price, Available: &stock}); err != nil {
		b.Fatal(err)
	}
	reserve := func(id string) time.Duration {
		start := time.Now()
		if _, err := c.Reserve(ctx, id, []inventory.Item{{SKU: "SKU-BENCH", Quantity: 1}}); err != nil {
			b.Fatal(err)
		}
		return time.Since(start)
	}
	reserve("ord-bench-first") // the connection and the compiled statements
	var warm, idle time.Duration
	b.ResetTimer()
	for i := range b.N {
		time.Sleep(idleGap)
		idle += reserve(fmt.Sprintf("ord-bench-idle-%d", i))
		warm += reserve(fmt.Sprintf("ord-bench-warm-%d", i))
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(warm.Microseconds())/n, "warm-µs/call")
	b.ReportMetric(float64(idle.Microseconds())/n, "idle-µs/call")
	b.ReportMetric(float64(idle)/float64(warm), "idle/warm")
	b.ReportMetric(0, "ns/op") // an op is mostly the idle gap
}
