// Command api serves ordersaga's public HTTP API (default port 8080): it starts, queries,
// signals and updates order workflows, and reads the order and inventory services.
//
// Settings come from the environment: HOST, API_PORT, TEMPORAL_ADDRESS,
// TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE, TEMPORAL_UI_URL, the services' *_URL (or
// *_PORT), SERVICE_TOKENS, DEV_MODE, OPERATOR_TOKENS, PAYLOAD_KEYS, CODEC_CORS_ORIGINS,
// APPROVAL_THRESHOLD_CENTS, APPROVAL_TIMEOUT, COMPENSATION_MAX_ATTEMPTS, STATUS_MIRROR,
// OTEL_EXPORTER_OTLP_ENDPOINT, LOG_FORMAT, LOG_LEVEL.
package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
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
	// Encryption seals what orders store in Temporal; the codec server at /codec opens it
	// for operators.
	Encryption config.Encryption
	// CodecOrigins may call the codec server from a browser (CODEC_CORS_ORIGINS, default
	// the Web UI's origin, TEMPORAL_UI_URL's).
	CodecOrigins []string
	Policy       saga.Policy
	Telemetry    telemetry.Config
	Log          logging.Config
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
	auth := config.ReadServiceAuth(r)
	temporal := config.ReadTemporal(r)
	cfg := Config{
		Addr:           net.JoinHostPort(r.String("HOST", "127.0.0.1"), strconv.Itoa(config.Port(r, "api"))),
		Temporal:       temporal,
		Services:       config.ReadServiceURLs(r),
		Auth:           auth,
		OperatorTokens: r.List("OPERATOR_TOKENS", nil),
		Encryption:     config.ReadEncryption(r, auth.DevMode),
		CodecOrigins:   r.List("CODEC_CORS_ORIGINS", []string{origin(temporal.UIURL)}),
		Policy:         app.ReadPolicy(r),
		Telemetry:      config.ReadTelemetry(r),
		Log:            config.ReadLogging(r),
	}
	return cfg, r.Err()
}

// origin is the scheme://host[:port] of a URL.
func origin(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return rawURL
	}
	return u.Scheme + "://" + u.Host
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
	dc := cfg.Encryption.DataConverter()
	tc, err := temporalx.Connect(ctx, cfg.Temporal, log, tel.ConfigureTemporal, cfg.Encryption.ConfigureTemporal)
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
	sagas := workflows.NewClient(tc, cfg.Temporal.Namespace(), cfg.Temporal.TaskQueue, dc)
	uses := app.New(app.Config{Namespace: cfg.Temporal.Namespace(), UIURL: cfg.Temporal.UIURL, Policy: cfg.Policy},
		sagas, orders, catalog, log)
	apiCfg := api.Config{OperatorTokens: cfg.OperatorTokens}
	if cfg.Encryption.Codec != nil {
		apiCfg.Codec = api.CodecConfig{Codec: cfg.Encryption.Codec, AllowOrigins: cfg.CodecOrigins, Open: cfg.Auth.DevMode}
	}
	handler := api.New(apiCfg, api.Deps{
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
