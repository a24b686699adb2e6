// Command devstack is `make run`: it starts the whole of ordersaga on one machine — a
// Temporal dev server with its Web UI (state in DATA_DIR/temporal.db), the four services
// (SQLite files in DATA_DIR, or PostgreSQL when DATABASE_URL is set), the worker and the
// API — waits until each answers, prints where everything is, and on Ctrl-C (or when any
// part exits) stops them all, the API first and Temporal last, leaving no process behind.
//
// Settings: BIN_DIR (bin), DATA_DIR (.data), TEMPORAL_PORT (7233), TEMPORAL_UI_PORT
// (8233), TEMPORAL_METRICS_PORT (8239), API_PORT, WORKER_PORT and the services' *_PORT, OPERATOR_TOKENS (a dev token is made up and
// printed when unset), PAYLOAD_KEYS (unset: a dev key is made once and kept in
// DATA_DIR/payload-keys), FAULTS_ENABLED and SEED_DEMO_DATA (true), SERVICE_TOKENS (unset: the services run in DEV_MODE, their writes
// open), NATS_URL and NATS_PORT (the services' events: unset, the services process runs
// an embedded NATS on 4223), and everything the parts read themselves.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ordersaga/ordersaga/internal/codec"
	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/devserver"
	"github.com/ordersaga/ordersaga/internal/env"
	"github.com/ordersaga/ordersaga/internal/logging"
	"github.com/ordersaga/ordersaga/internal/proc"
	"github.com/ordersaga/ordersaga/internal/temporalx"
)

// Config is devstack's configuration.
type Config struct {
	BinDir, DataDir      string
	TemporalPort, UIPort int
	TemporalMetricsPort  int
	APIPort, WorkerPort  int
	ServicePorts         map[string]int
	OperatorTokens       string
	devToken             bool
	// ServiceTokens protect the services' writes; unset, they run in DEV_MODE (open).
	ServiceTokens string
	// PayloadKeys seal what orders store in Temporal; unset, a dev key kept in DataDir.
	PayloadKeys string
	DatabaseURL string
	// Events says where the services' events go (the services process embeds NATS
	// unless NATS_URL is set).
	Events config.Events
}

func readConfig(getenv func(string) string) (Config, error) {
	r := env.New(getenv)
	cfg := Config{
		BinDir:              r.String("BIN_DIR", "bin"),
		DataDir:             r.String("DATA_DIR", ".data"),
		TemporalPort:        r.Int("TEMPORAL_PORT", 7233),
		UIPort:              r.Int("TEMPORAL_UI_PORT", 8233),
		TemporalMetricsPort: r.Int("TEMPORAL_METRICS_PORT", 8239),
		APIPort:             config.Port(r, "api"),
		WorkerPort:          config.Port(r, "worker"),
		ServicePorts:        map[string]int{},
		OperatorTokens:      r.String("OPERATOR_TOKENS", ""),
		ServiceTokens:       r.String("SERVICE_TOKENS", ""),
		PayloadKeys:         r.String("PAYLOAD_KEYS", ""),
		DatabaseURL:         r.String("DATABASE_URL", ""),
		Events:              config.ReadEvents(r),
	}
	for _, name := range config.ServiceNames {
		cfg.ServicePorts[name] = config.Port(r, name)
	}
	if cfg.OperatorTokens == "" {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		cfg.OperatorTokens, cfg.devToken = "dev-"+hex.EncodeToString(b), true
	}
	return cfg, r.Err()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, getenv func(string) string, out io.Writer) error {
	cfg, err := readConfig(getenv)
	if err != nil {
		return err
	}
	log, err := logging.New(logging.Config{Level: "info"}, "devstack", out)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o755); err != nil {
		return err
	}
	if cfg.PayloadKeys == "" {
		if cfg.PayloadKeys, err = codec.KeepKey(filepath.Join(cfg.DataDir, "payload-keys"), "dev1"); err != nil {
			return err
		}
	}
	temporalAddr := "127.0.0.1:" + strconv.Itoa(cfg.TemporalPort)
	uiURL := "http://localhost:" + strconv.Itoa(cfg.UIPort)
	childEnv := []string{
		"TEMPORAL_ADDRESS=" + temporalAddr,
		"TEMPORAL_UI_URL=" + uiURL,
		"OPERATOR_TOKENS=" + cfg.OperatorTokens,
		"DATA_DIR=" + cfg.DataDir,
		"PAYLOAD_KEYS=" + cfg.PayloadKeys,
	}
	childEnv = append(childEnv, config.LocalStackEnv(getenv, cfg.ServiceTokens)...)

	var running []*proc.Proc
	defer func() { stopAll(running, out) }()
	start := func(name string, args ...string) (*proc.Proc, error) {
		path := filepath.Join(cfg.BinDir, name)
		p, err := proc.Start(name, path, args, childEnv, proc.PrefixWriter(out, fmt.Sprintf("%-9s| ", name)))
		if err == nil {
			running = append(running, p)
		}
		return p, err
	}

	apiURL := "http://localhost:" + strconv.Itoa(cfg.APIPort)
	log.Info("starting the Temporal dev server", "address", temporalAddr, "ui", uiURL)
	if _, err := start("temporal", devserver.Args(devserver.Options{
		Port: cfg.TemporalPort, UIPort: cfg.UIPort, MetricsPort: cfg.TemporalMetricsPort,
		DBFile: filepath.Join(cfg.DataDir, "temporal.db"), CodecEndpoint: apiURL + "/codec",
	})...); err != nil {
		return fmt.Errorf("%w (run `make tools` to build bin/temporal)", err)
	}
	tc, err := temporalx.Dial(ctx, config.LocalTemporal(temporalAddr), log, 2*time.Minute)
	if err != nil {
		return err
	}
	tc.Close()

	if _, err := start("services"); err != nil {
		return err
	}
	for _, name := range config.ServiceNames {
		if err := proc.WaitHTTPWithin(ctx, time.Minute, fmt.Sprintf("http://127.0.0.1:%d/healthz", cfg.ServicePorts[name]), running...); err != nil {
			return fmt.Errorf("%s service: %w", name, err)
		}
	}
	if _, err := start("worker"); err != nil {
		return err
	}
	if err := proc.WaitHTTPWithin(ctx, time.Minute, fmt.Sprintf("http://127.0.0.1:%d/readyz", cfg.WorkerPort), running...); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	if _, err := start("api"); err != nil {
		return err
	}
	if err := proc.WaitHTTPWithin(ctx, time.Minute, apiURL+"/readyz", running...); err != nil {
		return fmt.Errorf("api: %w", err)
	}
	printBanner(out, cfg, apiURL, uiURL, running)

	select {
	case <-ctx.Done():
		fmt.Fprintln(out, "\nstopping...")
		return nil
	case p := <-proc.FirstExit(running):
		return fmt.Errorf("%s exited: %v", p.Name, p.Err())
	}
}

// stopAll stops the processes, last started first.
func stopAll(ps []*proc.Proc, out io.Writer) {
	proc.StopAll(ps, 20*time.Second, proc.PrefixWriter(out, "devstack | "))
	fmt.Fprintln(out, "devstack | all stopped")
}

func printBanner(out io.Writer, cfg Config, apiURL, uiURL string, running []*proc.Proc) {
	var pids []string
	for _, p := range running {
		pids = append(pids, fmt.Sprintf("%s=%d", p.Name, p.Pid()))
	}
	storage := "SQLite files in " + cfg.DataDir
	if cfg.DatabaseURL != "" {
		storage = "PostgreSQL (DATABASE_URL), one schema per service"
	}
	serviceAuth := "SERVICE_TOKENS (as set): the services' writes need one"
	if cfg.ServiceTokens == "" {
		serviceAuth = "off (DEV_MODE): set SERVICE_TOKENS to require a token on the services' writes"
	}
	codecAccess := "the Web UI decodes through it (DEV_MODE: no token asked)"
	if cfg.ServiceTokens != "" {
		codecAccess = "needs the operator token: the CLI sends it (--codec-auth); the Web UI cannot, and shows ciphertext"
	}
	events := cfg.Events.URL() + " (NATS_URL)"
	if cfg.Events.Embedded() {
		events = cfg.Events.URL() + " (embedded NATS with JetStream, in " + filepath.Join(cfg.DataDir, "nats") + ")"
	}
	token := "OPERATOR_TOKENS (as set)"
	if cfg.devToken {
		token = cfg.OperatorTokens + "   (made up for this run; set OPERATOR_TOKENS to choose)"
	}
	fmt.Fprintf(out, `
  ordersaga is running
    API            %[1]s            (OpenAPI: %[1]s/openapi.yaml)
    Temporal UI    %[2]s
    Temporal gRPC  127.0.0.1:%[3]d
    services       order :%[4]d  inventory :%[5]d  payment :%[6]d  shipping :%[7]d
    worker         http://localhost:%[11]d   (/readyz, /metrics; the API and services serve /metrics too)
    storage        %[8]s
    operator token %[9]s
    service auth   %[12]s
    payload codec  %[1]s/codec   payloads in Temporal are AES-256-GCM sealed; %[13]s
    events         %[14]s   stream ORDERSAGA   (bin/starter events --follow)
    processes      %[10]s

  Place an order:
    curl -s -X POST '%[1]s/v1/orders?wait=10s' -H 'Content-Type: application/json' -d '{
      "customerId": "cust-1", "items": [{"sku": "SKU-BOOK", "quantity": 2}],
      "paymentMethod": "pm_card_visa",
      "shippingAddress": {"name": "Ada", "line1": "1 Main St", "city": "Springfield", "postalCode": "12345", "country": "US"}}'

  Ctrl-C stops everything.
`, apiURL, uiURL, cfg.TemporalPort, cfg.ServicePorts[config.Order], cfg.ServicePorts[config.Inventory],
		cfg.ServicePorts[config.Payment], cfg.ServicePorts[config.Shipping], storage, token, strings.Join(pids, " "),
		cfg.WorkerPort, serviceAuth, codecAccess, events)
}
