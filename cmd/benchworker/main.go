// Command benchworker runs the ceiling of `make bench`: a worker of bench.CeilingWorkflow,
// a no-op workflow with the saga's shape, with the same worker settings, client settings
// telemetry and payload encryption as the saga's worker (cmd/worker), so that the two differ only
// in what their activities do.
//
// Settings come from the environment: the Temporal connection (TEMPORAL_ADDRESS, ...),
// TEMPORAL_TASK_QUEUE (the ceiling's own queue), PAYLOAD_KEYS (and DEV_MODE),
// OTEL_EXPORTER_OTLP_ENDPOINT, LOG_FORMAT, LOG_LEVEL.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	sdkworker "go.temporal.io/sdk/worker"

	"github.com/ordersaga/ordersaga/bench"
	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/env"
	"github.com/ordersaga/ordersaga/internal/logging"
	"github.com/ordersaga/ordersaga/internal/telemetry"
	"github.com/ordersaga/ordersaga/internal/temporalx"
	"github.com/ordersaga/ordersaga/worker"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "benchworker:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	r := env.New(getenv)
	tcfg := config.ReadTemporal(r)
	auth := config.ReadServiceAuth(r)
	enc := config.ReadEncryption(r, auth.DevMode)
	logCfg := config.ReadLogging(r)
	telCfg := config.ReadTelemetry(r)
	if err := r.Err(); err != nil {
		return err
	}
	log, err := logging.New(logCfg, "benchworker", os.Stderr)
	if err != nil {
		return err
	}
	tel, err := telemetry.New(ctx, "benchworker", telCfg, log)
	if err != nil {
		return err
	}
	defer tel.Close()
	tc, err := temporalx.Dial(ctx, tcfg, log, time.Minute, tel.ConfigureTemporal, enc.ConfigureTemporal)
	if err != nil {
		return err
	}
	defer tc.Close()
	w := sdkworker.New(tc, tcfg.TaskQueue, worker.Options())
	bench.Register(w)
	if err := w.Start(); err != nil {
		return err
	}
	log.Info("polling", "taskQueue", tcfg.TaskQueue)
	<-ctx.Done()
	w.Stop()
	return nil
}
