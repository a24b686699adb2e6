// Command worker runs the Temporal worker of ordersaga: it polls the orders task queue,
// runs OrderWorkflow, and runs the activities, which call the four services over HTTP.
// On SIGINT or SIGTERM it stops polling and lets running activities finish.
//
// It serves, on HOST:WORKER_PORT (127.0.0.1:8085), GET /healthz (the process is up),
// GET /readyz (connected to Temporal and polling the task queue) and GET /metrics (the
// Temporal SDK's metrics, the saga's, and the orders and task-queue gauges).
//
// Settings come from the environment: TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
// TEMPORAL_TASK_QUEUE, ORDER_URL, INVENTORY_URL, PAYMENT_URL, SHIPPING_URL (or the
// services' *_PORT), SERVICE_TOKENS, DEV_MODE, PAYLOAD_KEYS, HOST, WORKER_PORT, OBSERVE_INTERVAL (15s), OTEL_EXPORTER_OTLP_ENDPOINT,
// LOG_FORMAT, LOG_LEVEL.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/ordersaga/ordersaga/activities"
	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/env"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/logging"
	"github.com/ordersaga/ordersaga/internal/telemetry"
	"github.com/ordersaga/ordersaga/internal/temporalx"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
	"github.com/ordersaga/ordersaga/worker"
	"go.temporal.io/sdk/client"
)

// Config is the worker's whole configuration.
type Config struct {
	Addr string
	// ObserveInterval is how often the orders-in-status and backlog gauges are read.
	ObserveInterval time.Duration
	Temporal        config.Temporal
	Services        config.ServiceURLs
	Auth            config.ServiceAuth
	// Encryption seals every payload the worker writes to Temporal and opens what it reads.
	Encryption config.Encryption
	Telemetry  telemetry.Config
	Log        logging.Config
}

func readConfig(getenv func(string) string) (Config, error) {
	r := env.New(getenv)
	auth := config.ReadServiceAuth(r)
	cfg := Config{
		Addr:            net.JoinHostPort(r.String("HOST", "127.0.0.1"), strconv.Itoa(config.Port(r, "worker"))),
		Telemetry:       config.ReadTelemetry(r),
		ObserveInterval: r.Duration("OBSERVE_INTERVAL", worker.ObserveInterval),
		Temporal:        config.ReadTemporal(r),
		Services:        config.ReadServiceURLs(r),
		Auth:            auth,
		Encryption:      config.ReadEncryption(r, auth.DevMode),
		Log:             config.ReadLogging(r),
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
	log = telemetry.Logger(log)
	log.Info("starting", "config", fmt.Sprintf("%+v", cfg)) // Temporal's String masks the API key

	tel, err := telemetry.New(ctx, "worker", cfg.Telemetry, log)
	if err != nil {
		return err
	}
	defer tel.Close()
	identity := fmt.Sprintf("%d@%s@worker", os.Getpid(), hostname())
	tc, err := temporalx.Connect(ctx, cfg.Temporal, log, tel.ConfigureTemporal,
		cfg.Encryption.ConfigureTemporal, func(o *client.Options) error {
			o.Identity = identity
			return nil
		})
	if err != nil {
		return err
	}
	defer tc.Close()

	hc := httpx.NewServiceHTTPClient(cfg.Auth.Token())
	hc.Transport = tel.Transport(hc.Transport)
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
	log.Info("polling", "taskQueue", cfg.Temporal.TaskQueue, "namespace", cfg.Temporal.Namespace(), "identity", identity)

	obs := worker.NewObserver(tc, cfg.Temporal.Namespace(), cfg.Temporal.TaskQueue, tel.Registry, log)
	observing, stopObserving := context.WithCancel(ctx)
	defer stopObserving()
	go obs.Run(observing, cfg.ObserveInterval)

	h := httpx.NewEngine(log, httpx.Codes{}, httpx.Options{Metrics: tel.Handler(), Ready: obs.Polling(identity)})
	err = httpx.Serve(ctx, cfg.Addr, h, log) // until ctx ends
	log.Info("stopping: draining running activities", "timeout", worker.StopTimeout)
	w.Stop()
	log.Info("stopped")
	return err
}

func hostname() string {
	h, err := os.Hostname()
	if err != nil {
		return "unknown"
	}
	return h
}
