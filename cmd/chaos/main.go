// Command chaos is `make chaos`: it proves, under load and with many faults, that no order
// is lost, nobody is charged twice and no stock leaks. It starts its own stack on its own
// PostgreSQL (initdb and pg_ctl from the machine's packages, on a free port, data under
// DATA_DIR), a Temporal dev server, the services, two workers and the API; places orders
// with the load generator; and meanwhile, on a schedule it prints first, SIGKILLs workers,
// takes services down and slows one, stops PostgreSQL in immediate mode and kills the
// Temporal server. When the faults are over, it retries the compensations of any order
// left waiting for an operator, waits for every order to settle, and checks the books,
// and the services' event stream against them.
//
// It exits 0 only when every order was placed and settled, no answer was unexpected (a
// 503 with Retry-After is expected during a fault, and retried), no workflow is left
// running, the books are right, and the stream tells each order's records exactly (no
// event lost or delivered twice). -markdown writes the figures for RELIABILITY.md.
//
//	chaos -orders 200            # the short run CI makes (about two minutes)
//	chaos -orders 2000 -rate 7   # the full run of RELIABILITY.md
//
// Settings: BIN_DIR (bin, with temporal and the processes built), DATA_DIR (.data),
// PG_BIN (default: the newest /usr/lib/postgresql/*/bin).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/books"
	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/env"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/loadgen"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "chaos:", err)
		os.Exit(1)
	}
}

// baseLoad is how long the load must last for the shortest schedule (its last fault is
// lifted at about 103 s).
const baseLoad = 110 * time.Second

func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	fs := flag.NewFlagSet("chaos", flag.ContinueOnError)
	var (
		orders      = fs.Int("orders", 200, "how many orders to place")
		concurrency = fs.Int("concurrency", 20, "how many customers place orders at once")
		rate        = fs.Float64("rate", 0, "orders placed per second (default: spread the orders over the schedule)")
		mdPath      = fs.String("markdown", "", "write the figures as Markdown to this file")
		keep        = fs.Bool("keep", false, "keep the run's data and logs, even when it passes")
	)
	if err := fs.Parse(args); err != nil {
		return err
	}
	r := env.New(getenv)
	binDir, dataDir, pgBin := r.String("BIN_DIR", "bin"), r.String("DATA_DIR", ".data"), r.String("PG_BIN", "")
	if err := r.Err(); err != nil {
		return err
	}
	if *rate <= 0 {
		*rate = float64(*orders) / baseLoad.Seconds()
	}
	planned := time.Duration(float64(*orders) / *rate * float64(time.Second))
	scale := max(1, planned.Seconds()/baseLoad.Seconds())
	binDir, err := filepath.Abs(binDir)
	if err != nil {
		return err
	}
	pgBin, err = findPGBin(pgBin)
	if err != nil {
		return err
	}
	runID := strconv.FormatInt(time.Now().Unix()%1_000_000, 36)
	dir, err := filepath.Abs(filepath.Join(dataDir, "chaos-"+runID))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelInfo}))
	log.Info("chaos run", "orders", *orders, "rate", fmt.Sprintf("%.1f/s", *rate), "concurrency", *concurrency, "dir", dir)

	s, err := startStack(ctx, binDir, pgBin, dir, log)
	if s != nil {
		defer s.stop()
	}
	if err != nil {
		return fmt.Errorf("start the stack (logs in %s): %w", dir, err)
	}
	hostname, _ := os.Hostname()
	hc := httpx.NewServiceHTTPClient(s.svcToken)
	inv := inventory.NewClient("http://127.0.0.1:"+strconv.Itoa(s.ports["inventory"]), hc)
	pay := payment.NewClient("http://127.0.0.1:"+strconv.Itoa(s.ports["payment"]), hc)
	cat, open, err := loadgen.Provision(ctx, inv, pay, runID, *orders, *concurrency)
	if err != nil {
		return err
	}
	faults := s.schedule(scale)
	printSchedule(out, faults)

	// The load, the faults, and, once the faults are over, an operator.
	var (
		stats   loadgen.Stats
		rep     *loadgen.Report
		loadErr error
		wg      sync.WaitGroup
	)
	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	start := time.Now()
	loadDone := make(chan struct{})
	wg.Go(func() {
		defer close(loadDone)
		rep, loadErr = loadgen.Run(runCtx, loadgen.Config{
			APIURL: s.apiURL, Orders: *orders, Concurrency: *concurrency, Rate: *rate, Catalog: cat,
			OperatorToken: s.token, RunID: runID, Settle: planned + 10*time.Minute,
			Mix: loadgen.Mix{loadgen.Happy: 10, loadgen.Declined: 2, loadgen.Unshippable: 2, loadgen.Flaky: 2,
				loadgen.OutOfStock: 1, loadgen.Approval: 1, loadgen.Cancel: 2},
		}, &stats)
	})
	var (
		scheduleErr error
		retried     atomic.Int64
	)
	wg.Go(func() {
		if scheduleErr = runSchedule(runCtx, start, faults, out); scheduleErr != nil {
			stopRun()
			return
		}
		retried.Store(int64(operate(runCtx, s, loadDone, out)))
	})
	wg.Go(func() { progress(out, &stats, *orders, start, loadDone) })
	wg.Wait()
	if loadErr != nil {
		return loadErr
	}
	if scheduleErr != nil {
		return fmt.Errorf("the schedule (logs in %s): %w", dir, scheduleErr)
	}

	src := books.Services{API: api.NewClient(s.apiURL, nil), Inventory: inv, Payments: pay,
		Shipping: shipping.NewClient("http://127.0.0.1:"+strconv.Itoa(s.ports["shipping"]), hc)}
	check, err := books.Check(ctx, src, rep.OrderIDs(), open)
	if err != nil {
		return fmt.Errorf("check the books: %w", err)
	}
	events, err := checkEvents(ctx, s, src, rep.OrderIDs())
	if err != nil {
		return fmt.Errorf("check the events: %w", err)
	}
	running, err := s.tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{Query: "ExecutionStatus = 'Running'"})
	if err != nil {
		return err
	}
	res := result{report: rep, books: check, events: events, faults: faults, running: running.GetCount(), retried: int(retried.Load()),
		machine: fmt.Sprintf("%s, %d cores", hostname, numCPU()), started: start}
	res.write(out)
	if *mdPath != "" {
		if err := os.WriteFile(*mdPath, []byte(res.markdown()), 0o644); err != nil {
			return err
		}
	}
	if err := res.verdict(); err != nil {
		return fmt.Errorf("%w (logs in %s)", err, dir)
	}
	if !*keep {
		s.stop()
		_ = os.RemoveAll(dir)
	}
	return nil
}

// operate plays the operator once the faults are over: every few seconds until the load
// is done, it asks for the orders waiting in NEEDS_ATTENTION and retries their
// compensations. It returns how many it retried.
func operate(ctx context.Context, s *stack, done <-chan struct{}, out io.Writer) int {
	c := api.NewClient(s.apiURL, nil).WithToken(s.token)
	retried := 0
	for {
		page, err := c.List(ctx, order.ListQuery{Status: order.NeedsAttention, Limit: order.MaxLimit})
		if err == nil {
			for _, o := range page.Orders {
				if _, err := c.Decide(ctx, o.OrderID, app.RetryCompensations, app.Decision{By: "chaos"}); err == nil {
					retried++
					fmt.Fprintf(out, "chaos: retried the compensations of %s (%s)\n", o.OrderID, attentionOf(o))
				}
			}
		}
		select {
		case <-done:
			return retried
		case <-ctx.Done():
			return retried
		case <-time.After(5 * time.Second):
		}
	}
}

func attentionOf(o app.OrderView) string {
	if a := o.Attention; a != nil {
		return fmt.Sprintf("%s: %s", a.Step, a.Error.Message)
	}
	return "needs attention"
}

// progress writes the load's counters every five seconds until it is done.
func progress(out io.Writer, st *loadgen.Stats, total int, start time.Time, done <-chan struct{}) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			fmt.Fprintf(out, "chaos: %6.1fs  placed %d/%d  settled %d (completed %d, rejected %d, cancelled %d)  503s %d  errors %d\n",
				time.Since(start).Seconds(), atomic.LoadInt64(&st.Placed), total, atomic.LoadInt64(&st.Settled),
				atomic.LoadInt64(&st.Completed), atomic.LoadInt64(&st.Rejected), atomic.LoadInt64(&st.Cancelled),
				atomic.LoadInt64(&st.Unavailable), atomic.LoadInt64(&st.Unexpected))
		}
	}
}

// checkEvents reads the services' event stream from the stack's embedded NATS and checks
// it against their records of the orders (books.CheckEvents), waiting for the relays to
// catch up after the faults.
func checkEvents(ctx context.Context, s *stack, src books.Services, orderIDs []string) ([]string, error) {
	read, closeConn, err := books.ConnectStream("nats://127.0.0.1:" + strconv.Itoa(s.ports["nats"]))
	if err != nil {
		return nil, err
	}
	defer closeConn()
	orders := order.NewClient("http://127.0.0.1:"+strconv.Itoa(s.ports[config.Order]), httpx.NewServiceHTTPClient(s.svcToken))
	return books.CheckEvents(ctx, src, orders, orderIDs, read, 2*time.Minute)
}
