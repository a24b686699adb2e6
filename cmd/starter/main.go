// Command starter places one order through the Temporal client (not the HTTP API),
// prints each step as it changes and a Web UI link, and exits 0 only if the order
// COMPLETED. Run `starter -h` for the flags.
//
// Settings come from the environment: the Temporal connection (TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_PROFILE, ...), TEMPORAL_TASK_QUEUE, TEMPORAL_UI_URL,
// ORDER_URL and INVENTORY_URL (or their *_PORT; PAYMENT_URL and SHIPPING_URL are read and
// unused), SERVICE_TOKENS (the first is sent to the services), PAYLOAD_KEYS (and DEV_MODE), APPROVAL_THRESHOLD_CENTS,
// APPROVAL_TIMEOUT, COMPENSATION_MAX_ATTEMPTS, STATUS_MIRROR.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
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
