// Command services runs ordersaga's four mock services (order, inventory, payment,
// shipping), each a Gin HTTP service over its own tables: all four by default, or the
// ones named as arguments (`services inventory`), each on its own port.
//
// Production switches, off unless set to true: FAULTS_ENABLED (fault injection and
// /admin/faults, 404 otherwise) and SEED_DEMO_DATA (the demo catalogue and customers).
// `make run`, the tests and the chaos run turn both on.
//
// Storage: with <NAME>_DATABASE_URL a service uses that PostgreSQL database; else with
// DATABASE_URL it uses its own schema (named after the service) in that database; else an
// embedded SQLite file <DATA_DIR>/<name>.db (DATA_DIR defaults to .data). Fault injection
// starts from <NAME>_FAULT_ERROR_RATE, <NAME>_FAULT_LATENCY_MS, <NAME>_FAULT_DOWN and
// <NAME>_FAULT_OPERATIONS. Ports: <NAME>_PORT (8081-8084) on HOST (127.0.0.1).
//
// Events: each service writes its domain events into its outbox table and relays them to
// NATS JetStream (stream ORDERSAGA, subjects ordersaga.<service>.<type>). NATS_URL names
// the NATS server; without it the process runs an embedded one with JetStream on
// NATS_PORT (4223, beside a NATS on the standard 4222) at HOST, keeping its streams in
// <DATA_DIR>/nats. Without NATS the services work, and their events wait in the outboxes.
//
// Logging: LOG_FORMAT, LOG_LEVEL. Traces: OTEL_EXPORTER_OTLP_ENDPOINT.
//
// Every POST and PUT needs a bearer token of SERVICE_TOKENS (comma-separated; callers send
// the first). Without tokens the process refuses to start, unless DEV_MODE=true.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"syscall"

	"github.com/nats-io/nats.go/jetstream"
	"gorm.io/gorm"

	"github.com/ordersaga/ordersaga/internal/config"
	"github.com/ordersaga/ordersaga/internal/database"
	"github.com/ordersaga/ordersaga/internal/env"
	"github.com/ordersaga/ordersaga/internal/faults"
	"github.com/ordersaga/ordersaga/internal/httpx"
	"github.com/ordersaga/ordersaga/internal/logging"
	"github.com/ordersaga/ordersaga/internal/natsx"
	"github.com/ordersaga/ordersaga/internal/outbox"
	"github.com/ordersaga/ordersaga/internal/telemetry"
	"github.com/ordersaga/ordersaga/services/inventory"
	"github.com/ordersaga/ordersaga/services/order"
	"github.com/ordersaga/ordersaga/services/payment"
	"github.com/ordersaga/ordersaga/services/shipping"
)

// service is how to build one of the four.
type service struct {
	name       string
	operations []string
	build      func(context.Context, *gorm.DB, *faults.Injector, *slog.Logger, httpx.Options) (http.Handler, error)
	// seed loads the service's demo data, if it has any.
	seed func(context.Context, *gorm.DB) error
}

var services = []service{
	{config.Order, order.Operations, order.New, nil},
	{config.Inventory, inventory.Operations, inventory.New, inventory.Seed},
	{config.Payment, payment.Operations, payment.New, payment.Seed},
	{config.Shipping, shipping.Operations, shipping.New, nil},
}

// Config is the process's whole configuration.
type Config struct {
	Services []ServiceConfig
	Auth     config.ServiceAuth
	// FaultsEnabled (FAULTS_ENABLED) serves /admin/faults and applies the
	// <NAME>_FAULT_* settings; off, neither exists (404).
	FaultsEnabled bool
	// SeedDemoData (SEED_DEMO_DATA) loads the demo catalogue and customers at start.
	SeedDemoData bool
	Log          logging.Config
	Telemetry    telemetry.Config
	Events       EventsConfig
}

// EventsConfig says where the services' events go.
type EventsConfig struct {
	config.Events
	// EmbeddedHost (HOST) is where the embedded server listens, and EmbeddedStoreDir
	// (<DATA_DIR>/nats) where it keeps its streams.
	EmbeddedHost     string
	EmbeddedStoreDir string
}

// ServiceConfig is one service's configuration.
type ServiceConfig struct {
	Name     string
	Addr     string
	Database database.Config
	Faults   faults.Config
}

func readConfig(args []string, getenv func(string) string) (Config, error) {
	r := env.New(getenv)
	names := args
	if len(names) == 0 {
		names = r.List("SERVICES", config.ServiceNames)
	}
	cfg := Config{Log: config.ReadLogging(r), Telemetry: config.ReadTelemetry(r), Auth: config.ReadServiceAuth(r),
		FaultsEnabled: r.Bool("FAULTS_ENABLED", false), SeedDemoData: r.Bool("SEED_DEMO_DATA", false)}
	host := r.String("HOST", "127.0.0.1")
	dataDir := r.String("DATA_DIR", ".data")
	sharedURL := r.String("DATABASE_URL", "")
	cfg.Events = EventsConfig{Events: config.ReadEvents(r), EmbeddedHost: host, EmbeddedStoreDir: filepath.Join(dataDir, "nats")}
	for _, name := range names {
		if !slices.Contains(config.ServiceNames, name) {
			return Config{}, fmt.Errorf("unknown service %q: want some of %v", name, config.ServiceNames)
		}
		sc := ServiceConfig{
			Name: name,
			Addr: net.JoinHostPort(host, strconv.Itoa(config.Port(r, name))),
			Database: database.Config{
				URL:        r.String(config.EnvName(name, "DATABASE_URL"), ""),
				SQLitePath: filepath.Join(dataDir, name+".db"),
			},
			Faults: faults.Config{
				ErrorRate:  r.Float(config.EnvName(name, "FAULT_ERROR_RATE"), 0),
				LatencyMs:  r.Int(config.EnvName(name, "FAULT_LATENCY_MS"), 0),
				Down:       r.Bool(config.EnvName(name, "FAULT_DOWN"), false),
				Operations: r.List(config.EnvName(name, "FAULT_OPERATIONS"), nil),
			},
		}
		if !cfg.FaultsEnabled && (sc.Faults.ErrorRate != 0 || sc.Faults.LatencyMs != 0 || sc.Faults.Down || len(sc.Faults.Operations) > 0) {
			r.Fail(fmt.Errorf("%s: fault settings are given but FAULTS_ENABLED is not true", name))
		}
		if sc.Database.URL == "" && sharedURL != "" {
			sc.Database.URL, sc.Database.Schema = sharedURL, name
		}
		cfg.Services = append(cfg.Services, sc)
	}
	if len(cfg.Auth.Tokens) == 0 && !cfg.Auth.DevMode {
		r.Fail(errors.New("SERVICE_TOKENS is not set: every POST and PUT of the services (charges, " +
			"balances, stock) would be open to anyone who can reach them; set it (the worker and " +
			"the API send the first token), or DEV_MODE=true on a laptop"))
	}
	return cfg, r.Err()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "services:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string) error {
	cfg, err := readConfig(args, getenv)
	if err != nil {
		return err
	}
	root, err := logging.New(cfg.Log, "services", os.Stderr)
	if err != nil {
		return err
	}
	root = telemetry.Logger(root)
	if len(cfg.Auth.Tokens) == 0 {
		root.Warn("DEV_MODE: no SERVICE_TOKENS, the services' writes are open to anyone who can reach them")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	js, closeNATS, err := connectEvents(cfg.Events, root)
	if err != nil {
		return err
	}
	defer closeNATS()

	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, sc := range cfg.Services {
		log := root.With("service", sc.Name)
		log.Info("starting", "addr", sc.Addr, "database", sc.Database.String(), "auth", cfg.Auth.String(),
			"faultsEnabled", cfg.FaultsEnabled, "faults", fmt.Sprintf("%+v", sc.Faults), "seedDemoData", cfg.SeedDemoData)
		h, relay, closeDB, err := build(ctx, sc, cfg, js, log)
		if err != nil {
			cancel()
			wg.Wait()
			return fmt.Errorf("%s: %w", sc.Name, err)
		}
		relayDone := make(chan struct{})
		go func() { defer close(relayDone); relay.Run(ctx) }()
		wg.Go(func() {
			defer func() { <-relayDone }()
			defer closeDB()
			if err := httpx.Serve(ctx, sc.Addr, h, log); err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%s: %w", sc.Name, err))
				mu.Unlock()
				cancel() // one service failing stops them all
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// connectEvents connects to the NATS server the events go to, starting the embedded one
// when none is configured. It returns the JetStream handle and a function closing the
// connection and stopping the embedded server.
func connectEvents(cfg EventsConfig, log *slog.Logger) (jetstream.JetStream, func(), error) {
	url, stopEmbedded := cfg.NATSURL, func() {}
	if cfg.Embedded() {
		srv, err := natsx.StartEmbedded(cfg.EmbeddedHost, cfg.EmbeddedPort, cfg.EmbeddedStoreDir, log)
		if err != nil {
			return nil, nil, fmt.Errorf("%w (set NATS_URL to use another NATS server, or NATS_PORT)", err)
		}
		url, stopEmbedded = srv.URL(), srv.Shutdown
	}
	nc, err := natsx.Connect(url, "ordersaga-services", log)
	if err != nil {
		stopEmbedded()
		return nil, nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		stopEmbedded()
		return nil, nil, err
	}
	log.Info("events", "nats", natsx.Redact(url), "stream", outbox.Stream)
	return js, func() { nc.Close(); stopEmbedded() }, nil
}

// build opens a service's database and returns its handler, the relay of its outbox,
// and a function closing the database and flushing its telemetry. Each service has its
// own telemetry (its own /metrics), as it would in a process of its own.
func build(ctx context.Context, sc ServiceConfig, cfg Config, js jetstream.JetStream, log *slog.Logger) (http.Handler, *outbox.Relay, func(), error) {
	var svc service
	for _, s := range services {
		if s.name == sc.Name {
			svc = s
		}
	}
	inj := faults.Off()
	if cfg.FaultsEnabled {
		var err error
		if inj, err = faults.New(svc.operations, sc.Faults); err != nil {
			return nil, nil, nil, fmt.Errorf("fault settings: %w", err)
		}
	}
	tel, err := telemetry.New(ctx, sc.Name, cfg.Telemetry, log)
	if err != nil {
		return nil, nil, nil, err
	}
	db, err := database.Open(ctx, sc.Database, log)
	if err != nil {
		return nil, nil, nil, err
	}
	closeAll := func() {
		_ = database.Close(db)
		tel.Close()
	}
	if err := tel.InstrumentGORM(db); err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	h, err := svc.build(ctx, db, inj, log, httpx.Options{Middleware: tel.Middleware(), Metrics: tel.Handler(), WriteTokens: cfg.Auth.Tokens})
	if err == nil && cfg.SeedDemoData && svc.seed != nil {
		err = svc.seed(ctx, db)
	}
	var relay *outbox.Relay
	if err == nil {
		relay, err = outbox.NewRelay(db, js, sc.Name, log, tel.Registry, outbox.RelayOptions{})
	}
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	return h, relay, closeAll, nil
}
