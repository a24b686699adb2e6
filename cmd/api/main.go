// Command api serves ordersaga's public HTTP API (default port 8080): it starts, queries,
// signals and updates order workflows, and reads the order and inventory services.
//
// Settings come from the environment: HOST, API_PORT, TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE, TEMPORAL_UI_URL, the services' *_URL (or
// *_PORT), SERVICE_TOKENS, OPERATOR_TOKENS, APPROVAL_THRESHOLD_CENTS, APPROVAL_TIMEOUT,
// COMPENSATION_MAX_ATTEMPTS, OTEL_EXPORTER_OTLP_ENDPOINT, LOG_FORMAT, LOG_LEVEL.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/ordersaga/ordersaga/api"
	"github.com/ordersaga/ordersaga/app"
	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/env"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/logging"
	"github.com/ordersaga/ordersaga/internal/telemetry"
	"github.com/ordersaga/ordersaga/internal/temporalx"
	"github.com/ordersaga/ordersaga/saga"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
	"github.com/ordersaga/ordersaga/workflows"
)

// Config is the API process's whole configuration.
type Config struct {
	Addr           string
	Temporal       config.Temporal
	Services       config.ServiceURLs
	Auth           config.ServiceAuth
	OperatorTokens []string
	Policy         saga.Policy
	Telemetry      telemetry.Config
	Log            logging.Config
}

// String shows the configuration with the operator tokens masked, for the start-up log.
func (c Config) String() string {
	masked := c
	masked.OperatorTokens = make([]string, len(c.OperatorTokens))
	for i := range c.OperatorTokens {
		masked.OperatorTokens[i] = "xxxxx"
	}
	type plain Config
	return fmt.Sprintf("%+v", plain(masked))
}

func readConfig(getenv func(string) string) (Config, error) {
	r := env.New(getenv)
	cfg := Config{
		Addr:           net.JoinHostPort(r.String("HOST", "127.0.0.1"), strconv.Itoa(config.Port(r, "api"))),
		Temporal:       config.ReadTemporal(r),
		Services:       config.ReadServiceURLs(r),
		Auth:           config.ReadServiceAuth(r),
		OperatorTokens: r.List("OPERATOR_TOKENS", nil),
		Policy:         app.ReadPolicy(r),
		Telemetry:      config.ReadTelemetry(r),
		Log:            config.ReadLogging(r),
	}
	return cfg, r.Err()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string) error {
	cfg, err := readConfig(getenv)
	if err != nil {
		return err
	}
	log, err := logging.New(cfg.Log, "api", os.Stderr)
	if err != nil {
		return err
	}
	log = telemetry.Logger(log)
	log.Info("starting", "config", cfg.String())

	tel, err := telemetry.New(ctx, "api", cfg.Telemetry, log)
	if err != nil {
		return err
	}
	defer tel.Close()
	tc, err := temporalx.Connect(ctx, cfg.Temporal, log, tel.ConfigureTemporal)
	if err != nil {
		return err
	}
	defer tc.Close()

	hc := httpx.NewServiceHTTPClient(cfg.Auth.Token())
	hc.Transport = tel.Transport(hc.Transport)
	orders := order.NewClient(cfg.Services.Order, hc)
	catalog := inventory.NewClient(cfg.Services.Inventory, hc)
	payments := payment.NewClient(cfg.Services.Payment, hc)
	shipments := shipping.NewClient(cfg.Services.Shipping, hc)
	sagas := workflows.NewClient(tc, cfg.Temporal.Namespace(), cfg.Temporal.TaskQueue, nil)
	uses := app.New(app.Config{Namespace: cfg.Temporal.Namespace(), UIURL: cfg.Temporal.UIURL, Policy: cfg.Policy},
		sagas, orders, catalog, log)
	handler := api.New(api.Config{OperatorTokens: cfg.OperatorTokens}, api.Deps{
		Orders:  uses,
		Catalog: catalog,
		Readiness: []api.Dependency{
			{Name: "temporal", Check: sagas.CheckHealth},
			{Name: config.Order, Check: orders.Healthy},
			{Name: config.Inventory, Check: catalog.Healthy},
			{Name: config.Payment, Check: payments.Healthy},
			{Name: config.Shipping, Check: shipments.Healthy},
		},
		Metrics:    tel.Registry,
		Middleware: tel.Middleware(),
	}, log)
	return httpx.Serve(ctx, cfg.Addr, handler, log)
}
