// Command starter places one order through the Temporal client (not the HTTP API),
// prints each step as it changes and a Web UI link, and exits 0 only if the order
// COMPLETED. Run `starter -h` for the flags.
//
// `starter provision` makes a Temporal cluster ready for orders instead, with the code
// `make run-cluster` runs at each start (temporalx.Provision): it registers the namespace
// TEMPORAL_NAMESPACE, keeping closed orders' histories for TEMPORAL_RETENTION (72h),
// unless it exists, and adds the search attributes orders set. It changes nothing on a
// cluster that is ready, so a deployment may run it every time; the compose stack runs it
// once before the worker and the API, which refuse to start without the attributes. Run
// `starter provision -h` for its flags.
//
// `starter events [--order ID] [--follow] [--json]` prints the services' domain events
// from the stream ORDERSAGA, oldest first, as a consumer sees them: all of them, or one
// order's, and with --follow new ones as they come. It reads NATS_URL
// (nats://127.0.0.1:4223, the embedded NATS of `make run`).
//
// Settings come from the environment: the Temporal connection (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_PROFILE, ...), TEMPORAL_TASK_QUEUE, TEMPORAL_UI_URL,
// ORDER_URL and INVENTORY_URL (or their *_PORT; PAYMENT_URL and SHIPPING_URL are read and
// unused), SERVICE_TOKENS (the first is sent to the services), PAYLOAD_KEYS (and DEV_MODE), APPROVAL_THRESHOLD_CENTS,
// APPROVAL_TIMEOUT, COMPENSATION_MAX_ATTEMPTS, STATUS_MIRROR; `provision` needs only the
// Temporal connection and TEMPORAL_RETENTION.
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
	"strings"
	"syscall"
	"time"

	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/env"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/temporalx"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/starter"
	"github.com/ordersaga/ordersaga/workflows"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Getenv)
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "starter:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	if len(args) > 0 && args[0] == "provision" {
		return provision(ctx, args[1:], getenv)
	}
	if len(args) > 0 && args[0] == "events" {
		return events(ctx, args[1:], getenv, os.Stdout)
	}
	req, err := starter.ParseArgs(args, os.Stderr)
	if err != nil {
		return err
	}
	r := env.New(getenv)
	tcfg := config.ReadTemporal(r)
	urls := config.ReadServiceURLs(r)
	auth := config.ReadServiceAuth(r)
	enc := config.ReadEncryption(r, auth.DevMode)
	policy := app.ReadPolicy(r)
	if err := r.Err(); err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dc := enc.DataConverter()
	tc, err := temporalx.Dial(ctx, tcfg, log, 10*time.Second, enc.ConfigureTemporal)
	if err != nil {
		return err
	}
	defer tc.Close()
	hc := httpx.NewServiceHTTPClient(auth.Token())
	uses := app.New(app.Config{Namespace: tcfg.Namespace(), UIURL: tcfg.UIURL, Policy: policy},
		workflows.NewClient(tc, tcfg.Namespace(), tcfg.TaskQueue, dc),
		order.NewClient(urls.Order, hc), inventory.NewClient(urls.Inventory, hc), log)
	s := &starter.Starter{Orders: uses, Temporal: tc, Out: os.Stdout}
	return s.Run(ctx, req)
}

// provisionConfig is the configuration of `starter provision`.
type provisionConfig struct {
	Temporal config.Temporal
	// Retention is how long the namespace keeps closed orders' histories, when this
	// registers it (an existing namespace keeps its own).
	Retention time.Duration
	// Wait bounds the wait for the server to answer: a deployment may start this
	// alongside a server that is still coming up.
	Wait time.Duration
}

// readProvision reads the flags and the environment of `starter provision`.
func readProvision(args []string, getenv func(string) string, stderr io.Writer) (provisionConfig, error) {
	var cfg provisionConfig
	fs := flag.NewFlagSet("starter provision", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.DurationVar(&cfg.Wait, "wait", 2*time.Minute, "how long to wait for the Temporal server to answer")
	if err := fs.Parse(args); err != nil {
		return provisionConfig{}, err
	}
	if fs.NArg() > 0 {
		return provisionConfig{}, fmt.Errorf("provision: unexpected argument %q", fs.Arg(0))
	}
	r := env.New(getenv)
	cfg.Temporal = config.ReadTemporal(r)
	cfg.Retention = r.Duration("TEMPORAL_RETENTION", 72*time.Hour)
	if err := r.Err(); err != nil {
		return provisionConfig{}, err
	}
	if cfg.Retention <= 0 {
		return provisionConfig{}, errors.New("TEMPORAL_RETENTION: want a positive duration such as 72h")
	}
	return cfg, nil
}

// provision is `starter provision`: the namespace and its search attributes, as `make
// run-cluster` provisions them, so that every deployment gets the same.
func provision(ctx context.Context, args []string, getenv func(string) string) error {
	cfg, err := readProvision(args, getenv, os.Stderr)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	tc, err := temporalx.Dial(ctx, cfg.Temporal, log, cfg.Wait)
	if err != nil {
		return err
	}
	defer tc.Close()
	pctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := temporalx.Provision(pctx, tc, cfg.Temporal.Namespace(), cfg.Retention); err != nil {
		return err
	}
	var names []string
	for _, sa := range temporalx.SearchAttributes {
		names = append(names, sa.Name+"="+sa.TypeName)
	}
	fmt.Printf("namespace %s at %s is ready for orders: search attributes %s\n",
		cfg.Temporal.Namespace(), cfg.Temporal.Address(), strings.Join(names, " "))
	return nil
}
