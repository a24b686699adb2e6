// Command worker runs the Temporal worker of ordersaga: it polls the orders task queue,
// runs OrderWorkflow, and runs the activities, which call the four services over HTTP.
// On SIGINT or SIGTERM it stops polling and lets running activities finish.
//
// Settings come from the environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_TASK_QUEUE, ORDER_URL, INVENTORY_URL, PAYMENT_URL, SHIPPING_URL (or the
// services' *_PORT), LOG_FORMAT, LOG_LEVEL.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/env"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/logging"
	"github.com/ordersaga/ordersaga/internal/temporalx"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
	"github.com/ordersaga/ordersaga/worker"
)

// Config is the worker's whole configuration.
type Config struct {
	Temporal config.Temporal
	Services config.ServiceURLs
	Log      logging.Config
}

func readConfig(getenv func(string) string) (Config, error) {
	r := env.New(getenv)
	cfg := Config{
		Temporal: config.ReadTemporal(r),
		Services: config.ReadServiceURLs(r),
		Log:      config.ReadLogging(r),
	}
	return cfg, r.Err()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	cfg, err := readConfig(getenv)
	if err != nil {
		return err
	}
	log, err := logging.New(cfg.Log, "worker", os.Stderr)
	if err != nil {
		return err
	}
	log.Info("starting", "config", fmt.Sprintf("%+v", cfg)) // Temporal's String masks the API key

	tc, err := temporalx.Connect(ctx, cfg.Temporal, log)
	if err != nil {
		return err
	}
	defer tc.Close()

	hc := httpx.NewHTTPClient()
	acts := &activities.Activities{
		Orders:    order.NewClient(cfg.Services.Order, hc),
		Inventory: inventory.NewClient(cfg.Services.Inventory, hc),
		Payments:  payment.NewClient(cfg.Services.Payment, hc),
		Shipping:  shipping.NewClient(cfg.Services.Shipping, hc),
	}
	w := worker.New(tc, cfg.Temporal.TaskQueue, acts)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker: %w", err)
	}
	log.Info("polling", "taskQueue", cfg.Temporal.TaskQueue, "namespace", cfg.Temporal.Namespace)
	<-ctx.Done()
	log.Info("stopping: draining running activities", "timeout", worker.StopTimeout)
	w.Stop()
	log.Info("stopped")
	return nil
}
