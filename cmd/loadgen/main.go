// Command loadgen places orders through ordersaga's public API as many customers would at
// once, follows each to its end, shows its progress, and ends with a summary and the
// books check: throughput, accept and end-to-end latency percentiles, outcomes, every
// answer that was not a success, and whether stock, balances, payments and shipments
// agree with the outcomes. It exits 0 only when every order was placed and settled, no
// answer was unexpected, and the books are right.
//
//	loadgen -orders 300 -concurrency 30 -mix happy=6,declined=1,flaky=2
//
// It creates its own products and customers (named after the run) through the services,
// so that the books can be checked exactly. Settings come from the environment: API_URL
// (or API_PORT), INVENTORY_URL, PAYMENT_URL, SHIPPING_URL (or the services' *_PORT), and
// OPERATOR_TOKENS (the first decides the approval orders).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/books"
	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/env"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/loadgen"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
}

// defaultMix has every kind of order, mostly happy ones.
const defaultMix = "happy=10,declined=2,unshippable=2,flaky=2,out-of-stock=1,approval=1,cancel=2"

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		cfg      loadgen.Config
		mix      = fs.String("mix", defaultMix, "kinds of orders and their weights: "+kindNames())
		jsonOut  = fs.Bool("json", false, "write the report as JSON on stdout")
		progress = fs.Duration("progress", time.Second, "how often to show the progress (0: never)")
	)
	fs.IntVar(&cfg.Orders, "orders", 200, "how many orders to place")
	fs.IntVar(&cfg.Concurrency, "concurrency", 20, "how many customers place orders at once")
	fs.Float64Var(&cfg.Rate, "rate", 0, "at most this many orders placed per second (0: no limit)")
	fs.DurationVar(&cfg.Poll, "poll", 50*time.Millisecond, "interval of the GETs that follow an order")
	fs.DurationVar(&cfg.Settle, "settle", 5*time.Minute, "how long an order is followed before it counts as not settled")
	fs.StringVar(&cfg.RunID, "run", "", "run ID, in the orders' keys and the products' and customers' names (default: random)")
	fs.Uint64Var(&cfg.Seed, "seed", 0, "seed of the mix (default: random)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if cfg.Mix, err = parseMix(*mix); err != nil {
		return err
	}
	r := env.New(getenv)
	cfg.APIURL = r.String("API_URL", fmt.Sprintf("http://127.0.0.1:%d", config.Port(r, "api")))
	urls := config.ReadServiceURLs(r)
	hc := httpx.NewServiceHTTPClient(config.ReadServiceAuth(r).Token())
	if tokens := r.List("OPERATOR_TOKENS", nil); len(tokens) > 0 {
		cfg.OperatorToken = tokens[0]
	}
	if err := r.Err(); err != nil {
		return err
	}
	if cfg.RunID == "" {
		cfg.RunID = strconv.FormatInt(time.Now().Unix()%1_000_000, 36)
	}
	if cfg.OperatorToken == "" && cfg.Mix[loadgen.Approval] > 0 {
		fmt.Fprintln(stderr, "loadgen: no OPERATOR_TOKENS: leaving approval orders out of the mix")
		delete(cfg.Mix, loadgen.Approval)
	}

	inv, pay := inventory.NewClient(urls.Inventory, hc), payment.NewClient(urls.Payment, hc)
	cat, open, err := loadgen.Provision(ctx, inv, pay, cfg.RunID, cfg.Orders, cfg.Concurrency)
	if err != nil {
		return err
	}
	cfg.Catalog = cat
	fmt.Fprintf(stderr, "loadgen: run %s, %d orders from %d customers at %s\n", cfg.RunID, cfg.Orders, cfg.Concurrency, cfg.APIURL)

	var stats loadgen.Stats
	done := make(chan struct{})
	if *progress > 0 {
		go showProgress(stderr, &stats, cfg.Orders, *progress, done)
	}
	rep, err := loadgen.Run(ctx, cfg, &stats)
	close(done)
	if err != nil {
		return err
	}
	check, err := books.Check(ctx, books.Services{API: api.NewClient(cfg.APIURL, nil), Inventory: inv, Payments: pay,
		Shipping: shipping.NewClient(urls.Shipping, hc)}, rep.OrderIDs(), open)
	if err != nil {
		return fmt.Errorf("check the books: %w", err)
	}

	if *jsonOut {
		out := map[string]any{"report": rep, "books": map[string]any{"ok": check.OK(), "problems": check.Problems,
			"needsAttention": check.NeedsAttention}}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		rep.WriteSummary(stdout)
		writeBooks(stdout, check)
	}
	switch {
	case !check.OK():
		return fmt.Errorf("the books disagree with the orders (%d problems)", len(check.Problems))
	case rep.Failed > 0 || rep.Settled < rep.Placed:
		return fmt.Errorf("%d orders not placed, %d not settled", rep.Failed, rep.Placed-rep.Settled)
	case len(rep.Unexpected) > 0:
		return fmt.Errorf("%d unexpected answers", len(rep.Unexpected))
	}
	return nil
}

// writeBooks writes the books check for people.
func writeBooks(w io.Writer, c books.Report) {
	if c.OK() {
		fmt.Fprintf(w, "books      right: %d orders, stock, balances, payments and shipments agree\n", c.Orders)
	} else {
		fmt.Fprintf(w, "books      %d problems:\n", len(c.Problems))
		for _, p := range c.Problems {
			fmt.Fprintf(w, "  %s\n", p)
		}
	}
	if len(c.NeedsAttention) > 0 {
		fmt.Fprintf(w, "  waiting for an operator: %s\n", strings.Join(c.NeedsAttention, ", "))
	}
}

// showProgress writes the counters every interval until done: on one line rewritten in
// place on a terminal, a line each time elsewhere.
func showProgress(w io.Writer, s *loadgen.Stats, total int, interval time.Duration, done <-chan struct{}) {
	start := time.Now()
	tty := isTerminal(w)
	t := time.NewTicker(interval)
	defer t.Stop()
	line := func() string {
		settled := atomic.LoadInt64(&s.Settled)
		return fmt.Sprintf("%5.0fs  placed %d/%d  settled %d (completed %d, rejected %d, cancelled %d)  %.1f settled/s  503s %d  errors %d",
			time.Since(start).Seconds(), atomic.LoadInt64(&s.Placed), total, settled, atomic.LoadInt64(&s.Completed),
			atomic.LoadInt64(&s.Rejected), atomic.LoadInt64(&s.Cancelled), float64(settled)/time.Since(start).Seconds(),
			atomic.LoadInt64(&s.Unavailable), atomic.LoadInt64(&s.Unexpected))
	}
	for {
		select {
		case <-done:
			if tty {
				fmt.Fprintf(w, "\r%s\n", line())
			}
			return
		case <-t.C:
			if tty {
				fmt.Fprintf(w, "\r%s", line())
			} else {
				fmt.Fprintln(w, line())
			}
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// parseMix reads "happy=6,declined=1".
func parseMix(s string) (loadgen.Mix, error) {
	mix := loadgen.Mix{}
	for _, part := range strings.Split(s, ",") {
		name, weight, ok := strings.Cut(strings.TrimSpace(part), "=")
		n, err := strconv.Atoi(weight)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("-mix: %q: want kind=weight, such as happy=6", part)
		}
		mix[loadgen.Kind(name)] = n
	}
	return mix, nil
}

func kindNames() string {
	names := make([]string, len(loadgen.Kinds))
	for i, k := range loadgen.Kinds {
		names[i] = string(k)
	}
	return strings.Join(names, ", ")
}
